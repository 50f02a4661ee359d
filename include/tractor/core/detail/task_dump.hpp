// Renders the tasks of this thread as a tree: each nursery and cancel scope (cancelled?
// shielded? deadline left), each task in it (name, what it waits on), and under a task the
// nurseries and scopes it has open. Tasks of one group with the same name and wait, and no
// groups of their own, are listed once with a count, so that thousands stay readable.
#pragma once

#include <tractor/core/detail/task_group.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace tractor::detail {

/// "1.250 s" for a duration.
inline std::string seconds_text(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

/// What `t` waits on, innermost first: "sleep (1.250 s left), in: the answer of a call to ...".
inline std::string wait_text(const task_info& t, std::chrono::steady_clock::time_point now) {
  if (!t.waiting) return "nothing noted (running, or in a wait the runtime does not describe)";
  std::string out;
  for (const wait_note_scope* w = t.waiting; w; w = w->outer()) {
    const wait_note& n = w->note();
    if (!out.empty()) out += ", for ";
    out += n.what ? n.what : "?";
    if (n.detail) {
      out += ' ';
      n.detail(n.subject, out);
    }
    if (n.until != std::chrono::steady_clock::time_point::max()) {
      out += n.until > now ? " (" + seconds_text(n.until - now) + " left)" : " (due)";
    }
  }
  return out;
}

/// The task's name, or where it was started when it has none.
inline std::string task_label(const task_info& t) {
  if (!t.name.empty()) return t.name;
  std::string where = t.started_at.file_name();
  if (const auto slash = where.rfind('/'); slash != std::string::npos) where.erase(0, slash + 1);
  return "(unnamed, started at " + where + ":" + std::to_string(t.started_at.line()) + ")";
}

inline void render_group(const task_group& g, int depth, std::chrono::steady_clock::time_point now, std::string& out);

inline void render_groups(const group_list& groups, int depth, std::chrono::steady_clock::time_point now,
                          std::string& out) {
  for (const task_group* g = groups.first; g; g = g->next_sibling()) render_group(*g, depth, now, out);
}

inline void render_group(const task_group& g, int depth, std::chrono::steady_clock::time_point now, std::string& out) {
  const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  out += indent + "+ " + g.what;
  if (g.cancel_called()) out += " [cancelled]";
  if (g.shielded()) out += " [shielded]";
  if (g.deadline && *g.deadline != std::chrono::steady_clock::time_point::max()) {
    out += *g.deadline > now ? " [deadline in " + seconds_text(*g.deadline - now) + "]" : " [deadline passed]";
  }
  const bool scope = std::string_view(g.what) == "cancel scope";
  if (scope && g.children().size() == 1) {
    // A scope's one task is its body: shown as the scope itself.
    const task_info& body = g.children().front();
    out += ": " + wait_text(body, now) + "\n";
    render_groups(body.groups, depth + 1, now, out);
    return;
  }
  out += "\n";
  // Leaves (no groups of their own) with the same line are counted, in first-seen order.
  std::vector<std::string> order;
  std::map<std::string, std::size_t> counts;
  for (const child_task& c : g.children()) {
    std::string line = "task " + task_label(c) + ": waits for " + wait_text(c, now);
    if (c.groups.empty()) {
      if (counts[line]++ == 0) order.push_back(std::move(line));
      continue;
    }
    out += indent + "  - " + line + "\n";
    render_groups(c.groups, depth + 2, now, out);
  }
  for (const auto& line : order) {
    const std::size_t n = counts[line];
    out += indent + "  - " + (n > 1 ? std::to_string(n) + " x " : std::string()) + line + "\n";
  }
}

/// Every task of this thread, from its top-level nurseries and scopes down.
inline std::string render_this_thread_tasks() {
  std::string out;
  render_groups(top_level_groups(), 0, std::chrono::steady_clock::now(), out);
  if (out.empty()) out = "(no tasks)\n";
  return out;
}

}  // namespace tractor::detail
