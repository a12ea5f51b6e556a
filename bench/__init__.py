"""The load benchmark (issue #6): Atelier against a raw ``websockets`` broadcast server, in
the same run on the same machine. ``make bench`` runs it all and rewrites the generated
part of ``docs/performance.md``; ``make bench-quick`` (or ``python -m bench --quick``) runs
tiny sizes in a few minutes; ``tests/test_bench_smoke.py`` runs the quick fanout and resume
in CI. ``python -m bench --help`` lists the options (scenarios, targets, sizes, cores).

How it measures
---------------

- **Targets**: ``baseline`` (``baseline_server.py``: ``websockets`` + ``broadcast()``, no
  database — the practical ceiling of a Python WebSocket server), ``asgi``
  (``asgi_server.py``: the same broadcast as a Starlette app under uvicorn, the stack
  Atelier runs on), and Atelier itself (``python -m server run``) on ``sqlite`` (the
  embedded default), ``pg`` (PostgreSQL + Redis) and ``pg×2`` (two processes sharing them,
  each room's members split between the two).
- **Generator**: one Node process (``loadgen/``, the ``ws`` package; ``yjs`` and
  ``y-protocols`` for co-editing), driven by the runner through JSON lines on stdin/stdout.
  It never JSON-parses a delivered message: the send timestamp travels in the message's
  ``client_id`` and body, and is read from the raw bytes. Its own CPU is reported with every
  step, so a run limited by the generator shows.
- **Cores**: the servers are pinned to ``--server-cpus`` (core 0) and the generator to
  ``--generator-cpus`` (core 1) with ``taskset``. PostgreSQL and Redis are the machine's
  services and float. Both ``pg×2`` processes share the server core unless given more.
- **Data**: ``seed.py`` builds the assembly once per size and schema (10 000 members with
  sessions, 10 fanout rooms of 50, a room of 500, idle rooms of 50, a resume room of 10 000
  events, a history room of 1 000 000 messages, drafts) and each scenario starts from a
  fresh copy of it.
- **Numbers**: CPU and memory from ``/proc`` (``procstat.py``); latency is send → delivery
  at the generator, for every delivery; "lost" counts committed messages that a socket
  still open never received once deliveries stopped moving ("late" when they were still
  arriving at the drain deadline). Each step also records how long the server and the
  generator waited for a core, and the machine's I/O pressure: the noise gauges on a
  shared machine.

Files: ``run.py`` (command line, orchestration), ``harness.py`` (targets, fresh databases,
measuring), ``chat_scenarios.py`` and ``draft_scenarios.py`` (the scenarios), ``servers.py``
(processes), ``seed.py``, ``procstat.py``, ``targets.py`` (the issue's targets),
``report.py`` (tables, plot, ``docs/performance.md``). Diagnostics used for the findings:
``profiles.py`` (summarise ``--profile`` py-spy samples), ``querycount.py`` (SQL statements
per operation), ``memprofile.py`` (tracemalloc per idle socket), ``planaudit.py`` (the plans of the
statements the tests run, SQLite's and PostgreSQL's generic ones).
"""
