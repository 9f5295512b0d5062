"""Ignyx: FastAPI's API on a Rust engine::

    from ignyx import Ignyx

    app = Ignyx()

    @app.get("/users/{id}")
    def get_user(id: int):
        return {"id": id}

This module is the table of contents: the names a FastAPI app imports from ``fastapi``.
"""

from . import status
from ._version import __version__ as __version__
from .app import FastAPI, Ignyx
from .background import BackgroundTasks
from .datastructures import UploadFile
from .exceptions import HTTPException, RequestValidationError, WebSocketException
from .params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
from .requests import Request
from .responses import Response
from .routing import APIRouter
from .websockets import WebSocket, WebSocketDisconnect

__all__ = [
    "APIRouter",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "FastAPI",
    "File",
    "Form",
    "HTTPException",
    "Header",
    "Ignyx",
    "Path",
    "Query",
    "Request",
    "RequestValidationError",
    "Response",
    "Security",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "status",
]
