"""The app the Dockerfile serves unless given another (``--build-arg APP_DIR=...``): the
smallest one with the ``/healthz`` route that deploy/kubernetes.yaml's probes call."""

from ignyx import FastAPI

app = FastAPI()


@app.get("/")
def hello():
    return {"message": "Ignyx is live"}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
