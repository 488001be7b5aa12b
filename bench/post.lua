-- wrk script: POST the JSON in $BODY to the webhook with Basic bench:bench.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2g="
