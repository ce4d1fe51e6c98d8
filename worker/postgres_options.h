// How to reach PostgreSQL; filled by main.cc from flags and the environment.
#ifndef SLUICE_WORKER_POSTGRES_OPTIONS_H_
#define SLUICE_WORKER_POSTGRES_OPTIONS_H_

#include <string>

namespace sluice::worker {

struct PostgresOptions {
  // A libpq connection string ("host=... dbname=..."); when set, its parameters
  // override host, port, user, dbname and password below.
  std::string conninfo;
  std::string host = "localhost";
  int port = 5432;
  std::string user;
  std::string dbname;
  // Never taken from argv by default: see main.cc (PGPASSWORD or --db-password-file).
  std::string password;
  int connect_timeout_seconds = 5;
  std::string application_name = "sluice-worker";
  // A server that stops answering (host gone, network cut) is noticed by TCP
  // keepalives while idle and by tcp_user_timeout while data is unacknowledged,
  // instead of after the kernel's default of hours.
  int keepalives_idle_seconds = 30;
  int keepalives_interval_seconds = 10;
  int keepalives_count = 3;
  int tcp_user_timeout_ms = 60000;
  // Session limits: a statement (a batch's COPY included) or a lock wait that
  // takes longer fails as transient and the batch is retried; a session left idle
  // inside a transaction is ended by the server.
  int statement_timeout_ms = 300000;
  int lock_timeout_ms = 30000;
  int idle_in_transaction_timeout_ms = 60000;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_OPTIONS_H_
