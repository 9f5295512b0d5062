-- wrk script for POST /users: a small JSON body validated by a Pydantic model.
wrk.method = "POST"
wrk.body = '{"name":"a","age":1}'
wrk.headers["Content-Type"] = "application/json"
