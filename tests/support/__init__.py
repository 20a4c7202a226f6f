"""What tests share: real servers, real clients, seeded worlds. One place, no fixtures magic.

Import what you need from the module named after it (fixtures that a conftest.py must
register are imported into that conftest.py):

- `services`   `need` (skip, or fail with CI=true), PostgreSQL databases, Redis prefixes
               and `redis_answers`, `BACKENDS`, `run_in_fresh_loop`
- `paths`      `ROOT`, `SPEC`, `NODE_MODULES`
- `live`       `LiveServer` / `serve` (uvicorn in a thread), `serve_built`, `serve_pages`,
               `running`, `free_port`
- `clients`    `RecordingClient` (python-socketio), `Api` / `Person` / `expect` / `PASSWORD`
               (HTTP with a cookie jar each), `join`, `quiet`, `eventually`
- `world`      built over REST: `World` / `Place` / `SavedWorld` / `build_world`,
               `new_server`, `server_with`, `Poster`, `stored_ids`
- `seeded`     built in the database: the real-time `World` / `User` / `SECRET`,
               `seeded_settings`, fixtures `settings`, `live_world`, `world`
- `factories`  rows through the query functions: `make_user`, `make_server`,
               `general_channel_id`, `stored_contents`
- `deployment` `Deployment`, `make_settings`, `FAST_HASHING` (REST tests' app settings)
- `notifier`   `RecordingNotifier` (what REST and the domain asked the sockets to do)
- `cluster`    server processes on PostgreSQL and Redis: `cluster`, `workers_cluster`,
               `Cluster`, `Node`, `People`, `Sockets` (`joined`), `cookie`, `FAST_PRESENCE`,
               per-worker probes (`sockets_per_worker`, `worker_pid`, `spread`)
- `launcher`   `python -m tests.support.launcher PORT [WORKERS]` (a cluster's process)
- `doubles`    handler doubles for the generated router (`Doubles`, `a_message`, ids)
- `spec`       the AsyncAPI document and the seed socket-spec.md, read for the tests
- `node`       `need_node`, `need_chromium`, `run_node`
- `typescript` the TypeScript example compiled and run (`compiled_example` fixture)

Helpers used by one test folder only stay beside it (tests/hostile/process.py, …).
"""
