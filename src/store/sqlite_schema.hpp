#pragma once
// The scan database's schema: versioned by PRAGMA user_version, migrated forward on open.
#include "sqlite.hpp"

namespace maskterial::store::sqlite {

int schema_version();
// Sets the connection's pragmas (WAL, foreign keys) and applies the missing migrations, each in its own
// transaction. Throws Error naming the file for a foreign SQLite file or a newer schema.
void open_and_migrate(Database& db);

}  // namespace maskterial::store::sqlite
