"""Request size limits: the app accepts small JSON bodies, a router of uploads accepts large
ones, and one path operation takes a form with a few short fields only.

    ignyx run examples/body_limits.py
    curl localhost:8000/notes -H 'content-type: application/json' -d '{"text": "hi"}'
    head -c 2000000 /dev/zero | curl localhost:8000/notes --data-binary @-   # 413
"""

from typing import Annotated

from ignyx import APIRouter, FastAPI, Form, UploadFile
from pydantic import BaseModel

app = FastAPI(title="Body limits", max_body_size=64 * 1024)


class Note(BaseModel):
    text: str


@app.post("/notes")
async def add_note(note: Note):
    return {"length": len(note.text)}


@app.post("/feedback", form_limits={"max_fields": 3, "max_part_size": 1024})
async def feedback(
    name: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
):
    return {"name": name, "comment": comment}


uploads = APIRouter(prefix="/uploads", max_body_size=20 * 1024 * 1024)


@uploads.post("/")
async def upload(files: list[UploadFile]):
    return {"files": [(file.filename, file.size) for file in files]}


@uploads.post("/avatar", max_body_size=256 * 1024, form_limits={"max_files": 1})
async def avatar(image: UploadFile):
    return {"filename": image.filename, "size": image.size}


app.include_router(uploads)
