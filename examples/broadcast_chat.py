"""A chat with rooms on ``ignyx.broadcast``: each WebSocket on ``/rooms/{room}`` subscribes
to its room and forwards what is said there; a client speaks by sending text on its socket,
or anyone by ``POST /rooms/{room}/messages``::

    python examples/broadcast_chat.py                       # one process, memory://
    BROADCAST_URL=redis://127.0.0.1:6379/0 ignyx run examples/broadcast_chat.py --workers 4

    websocat 'ws://127.0.0.1:8000/rooms/lobby?user=ada'
    curl -X POST localhost:8000/rooms/lobby/messages -H 'content-type: application/json' \\
         -d '{"user": "grace", "text": "hello"}'

Every socket of the room gets ``{"type": "message", "room": "lobby", "user": "grace",
"text": "hello"}``. With ``memory://`` the rooms live in one process; with Redis, a message
posted to any worker (or host) reaches the sockets of every other. A socket first gets
``{"type": "joined", ...}`` once its subscription is in place: from then on it misses
nothing. A client too slow to keep up loses the oldest messages (``queue_size``) and is
told how many with ``{"type": "dropped", "count": n}``. While Redis is down, posting
answers 503 and a socket's text is refused with ``{"type": "error", ...}``; the sockets stay
open and receive again once Redis is back.
"""

import asyncio
import json
import os

from ignyx import FastAPI, HTTPException, WebSocket
from ignyx.broadcast import Broadcast, StoreError
from ignyx.responses import HTMLResponse
from pydantic import BaseModel, Field

broadcast = Broadcast(os.environ.get("BROADCAST_URL", "memory://"), queue_size=100)
app = FastAPI(on_startup=[broadcast.connect], on_shutdown=[broadcast.disconnect])


class Post(BaseModel):
    user: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)


def channel(room: str) -> str:
    return f"chat:{room}"


async def say(room: str, user: str, text: str) -> None:
    message = {"type": "message", "room": room, "user": user, "text": text}
    await broadcast.publish(channel=channel(room), message=json.dumps(message))


@app.post("/rooms/{room}/messages", status_code=202)
async def post_message(room: str, post: Post):
    try:
        await say(room, post.user, post.text)
    except StoreError:  # Redis is down: nothing was sent
        raise HTTPException(503, "The chat is unavailable, try again shortly") from None
    return {"room": room, "user": post.user, "text": post.text}


@app.websocket("/rooms/{room}")
async def chat_room(websocket: WebSocket, room: str, user: str = "anonymous"):
    await websocket.accept()
    async with broadcast.subscribe(channel=channel(room)) as subscriber:
        await websocket.send_json({"type": "joined", "room": room, "user": user})

        async def forward() -> None:
            dropped = 0
            async for event in subscriber:
                if subscriber.dropped != dropped:
                    await websocket.send_json(
                        {"type": "dropped", "count": subscriber.dropped - dropped}
                    )
                    dropped = subscriber.dropped
                await websocket.send_text(event.message)

        async def listen() -> None:
            async for text in websocket.iter_text():  # ends when the client leaves
                try:
                    await say(room, user, text)
                except StoreError:
                    await websocket.send_json({"type": "error", "detail": "not sent, try again"})

        tasks = [asyncio.create_task(forward()), asyncio.create_task(listen())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


PAGE = """<!doctype html>
<title>Ignyx chat</title>
<ul id="log"></ul>
<form id="say"><input id="text" autofocus autocomplete="off"><button>Send</button></form>
<script>
const room = location.hash.slice(1) || "lobby";
const user = prompt("Your name?") || "anonymous";
const socket = new WebSocket(
  `ws://${location.host}/rooms/${encodeURIComponent(room)}?user=${encodeURIComponent(user)}`);
socket.onmessage = (msg) => {
  const data = JSON.parse(msg.data), line = document.createElement("li");
  line.textContent = data.type === "message" ? `${data.user}: ${data.text}` : data.type;
  document.getElementById("log").append(line);
};
document.getElementById("say").onsubmit = (e) => {
  e.preventDefault();
  socket.send(document.getElementById("text").value);
  document.getElementById("text").value = "";
};
</script>
"""


@app.get("/", response_class=HTMLResponse)
def page():
    return PAGE


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
