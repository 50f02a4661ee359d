int main() { return 0; }  // each header is its own translation unit beside this one
