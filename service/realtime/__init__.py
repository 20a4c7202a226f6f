"""The Socket.IO side of Zizany: the server, its handlers, presence and typing."""
