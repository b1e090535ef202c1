"""Protocol core: pure functions over header values and upload state. No I/O, no aiohttp, no Redis."""
