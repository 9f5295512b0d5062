from ignyx import Ignyx
from pydantic import BaseModel

app = Ignyx()


class User(BaseModel):
    name: str
    age: int


@app.get("/")
def hello():
    return {"message": "Ignyx is live"}


@app.get("/users/{id}")
def get_user(id: int):
    return {"id": id}


@app.post("/users")
def create_user(body: User):
    return {"name": body.name, "age": body.age}


app.run(host="0.0.0.0", port=8000)
