// Ids must differ between threads and processes, including forked ones (cids collide
// otherwise, and an actor refuses a cid it already runs).
#include <tractor/runtime/identity.hpp>

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace {

using tractor::runtime::new_uuid;

TEST(identity_test, fresh_threads_start_from_different_ids) {
  std::set<std::string> firsts;
  for (int i = 0; i < 4; ++i) {
    std::string id;
    std::thread t([&] { id = new_uuid(); });  // each thread seeds its own generator
    t.join();
    firsts.insert(id);
  }
  firsts.insert(new_uuid());
  EXPECT_EQ(firsts.size(), 5u);
}

TEST(identity_test, a_forked_child_does_not_repeat_its_parents_ids) {
  (void)new_uuid();  // the parent's generator exists, and would be inherited
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string id = new_uuid();
    (void)!::write(fds[1], id.data(), id.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  char buf[64] = {};
  const ssize_t n = ::read(fds[0], buf, sizeof buf - 1);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<std::size_t>(n)), new_uuid());
}

TEST(identity_test, ids_are_uuid4_strings) {
  const std::string id = new_uuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4') << id;
}

}  // namespace
