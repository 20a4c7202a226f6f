"""Several Zizany processes on one Redis: fan-out, shared presence/typing/limits, control.

- Emits fan out through python-socketio's Redis client manager (manager.py; JSON over
  Redis pub/sub). The generated emitter validates each payload once, in the emitting
  process, before `sio.emit`.
- Control operations the client manager does not carry (a user's sockets leaving a
  server's rooms, a login's sockets disconnecting) travel on the same pub/sub channel,
  so they arrive in order with the emits of the process that sent them.
- Presence (leases), typing state and rate limits live in Redis (redis_presence,
  redis_typing, redis_counters); backplane.py runs their periodic work.
"""
