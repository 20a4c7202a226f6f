"""The hand-written runtime under the generated code: what every contract needs, no contract.

`generated/` imports it (the router's Dispatcher, the emitter's base, the schema registry,
the client's base); it imports neither `generated` nor `service`. Modules:
`errors` (ContractError, EmitRejected), `schemas` (compiled validators, `dump`),
`emitter` (EmitterBase, SocketId), `dispatcher` (Dispatcher, HandlersBase, Context,
Operation), `observer` (DispatchObserver: the dispatcher's hook for metrics and logs) and
`client` (ClientBase, the generated client's base).
"""
