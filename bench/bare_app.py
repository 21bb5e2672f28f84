"""The bare-framework ceiling: the smallest FastAPI HTML page, served the same way."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()
PAGE = "<!doctype html><title>bare</title><p>" + "Hola mundo. " * 200 + "</p>"


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    return PAGE
