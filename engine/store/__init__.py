"""Writing and reading engine rows fast, and waking whoever waits for them.

Below both the runtime (which applies commands) and the actions (which write them):
row construction without the ORM's per-instance cost (`rows`), fixed SQL run pipelined
and prepared (`sql`), bulk insert/update (`flush`), the command writer (`commands`), and
wake-ups after commit (`wake` for the engine, `notify` for waiting API requests).
"""
