"""Parameter models: one Pydantic model gathers a group of query parameters, headers,
cookies or form fields, validated together (``extra="forbid"`` refuses the unknown ones).

    ignyx run examples/parameter_models.py
    curl 'localhost:8000/products?max_price=20&tag=red&tag=sale'
    curl localhost:8000/whoami -H 'x-client-version: 2.1' -H 'accept-language: fr'
"""

from typing import Annotated, Literal, Optional, Union

from ignyx import Cookie, FastAPI, Form, Header, Query
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI(title="Parameter models")


class ProductFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_price: float = Field(100.0, gt=0)
    page: int = Field(1, ge=1)
    sort: Literal["price", "name"] = "name"
    tag: list[str] = []


class ClientHeaders(BaseModel):
    user_agent: str = "unknown"
    accept_language: Optional[str] = None
    x_client_version: str


class Preferences(BaseModel):
    theme: Literal["light", "dark"] = "light"
    currency: str = "EUR"


class CardPayment(BaseModel):
    method: Literal["card"]
    card_number: str = Field(pattern=r"^\d{12,19}$")


class TransferPayment(BaseModel):
    method: Literal["transfer"]
    iban: str
    references: list[str] = []


@app.get("/products")
async def list_products(filters: Annotated[ProductFilter, Query()]):
    return {"filters": filters}


@app.get("/whoami")
async def who_am_i(client: Annotated[ClientHeaders, Header()]):
    return client


@app.get("/preferences")
async def preferences(prefs: Annotated[Preferences, Cookie()]):
    return prefs


@app.post("/pay")
async def pay(
    payment: Annotated[Union[CardPayment, TransferPayment], Form(discriminator="method")],
):
    return {"accepted": payment}
