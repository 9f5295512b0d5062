"""TechEmpower's six test types on FastAPI and on Ignyx (``make bench-tfb``): the app
(``app.py``, written once with FastAPI's imports), its PostgreSQL (``postgres``), the two
servers (``frameworks``), what a correct answer is (``checks``) and the run (``run.py``).
``tests/test_techempower.py`` uses the same modules."""
