"""tuspyserver (PyPI) as a benchmark peer: its FastAPI tus router under uvicorn, file storage.

    bench/.venv-peers/bin/python bench/peers/tuspy_server.py PORT DIR
"""

import sys

import uvicorn
from fastapi import FastAPI
from tuspyserver import create_tus_router

port, directory = int(sys.argv[1]), sys.argv[2]
app = FastAPI()
app.include_router(create_tus_router(prefix="files", files_dir=directory, max_size=64 * 1024**3))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
