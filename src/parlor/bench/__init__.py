"""`parlor bench`: load generators and benchmarks for the media plane (DESIGN §4).

`fanout` starts a real node in its own process, seeds members straight into its
database, joins N WebRTC listeners (several generator processes, a lean SRTP receive
path) and S synthetic speakers through the node's REST API and socket, and reports
the server's CPU per forwarded packet, delivery, latency, memory and join times.
"""
