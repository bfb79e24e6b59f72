"""A local stand-in for the platforms' APIs, serving their documented response shapes from sample landing files.

The tests pull from it and so does `influence demo --pull`; it is never used against real data. Each platform module
answers the endpoints our pulls call, in the platform's own shapes and error conventions, and can be told to misbehave
the ways real APIs do (rate limits, throttles, expired and revoked tokens, withheld metrics, exhausted quotas).
"""
