"""`zizany mock`: the contract served from its examples alone, with no database.

Client teams develop against it before (or without) a running back end: the REST paths of
`spec/openapi.yaml` answer their examples, the Socket.IO events of `spec/asyncapi.yaml`
are validated like on the real server and answered with their examples, and the events
`x-emits` names are sent. See `service.mock.app.create_mock_app`.
"""
