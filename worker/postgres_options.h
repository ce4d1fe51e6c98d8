// How to reach PostgreSQL; filled by main.cc from flags and the environment.
#ifndef SLUICE_WORKER_POSTGRES_OPTIONS_H_
#define SLUICE_WORKER_POSTGRES_OPTIONS_H_

#include <string>

namespace sluice::worker {

struct PostgresOptions {
  std::string host = "localhost";
  int port = 5432;
  std::string user;
  std::string dbname;
  // Never taken from argv by default: see main.cc (PGPASSWORD or --db-password-file).
  std::string password;
  int connect_timeout_seconds = 5;
  std::string application_name = "sluice-worker";
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_OPTIONS_H_
