#pragma once
// A thin RAII layer over the SQLite C API: a connection, prepared statements with bound parameters (SQL is
// never assembled from values), and transactions that roll back unless committed.
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace maskterial::store::sqlite {

class Database {
 public:
  explicit Database(const std::string& path);  // throws Error naming the file
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(const char* sql);  // statements without parameters (schema, pragmas)
  [[noreturn]] void fail(const std::string& what) const;  // throws Error with SQLite's message

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& text);
  Statement& bind_blob(int index, const std::string& bytes);
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  bool step();  // true while a row is available
  void run();   // steps to the end (statements without rows)
  void reset();  // for reuse: clears the bindings too

  bool is_null(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;  // "" for NULL
  std::optional<double> optional_real(int column) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock at once, so two writers wait instead of failing half-way); rolls back
// unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace maskterial::store::sqlite
