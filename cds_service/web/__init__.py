"""Pages for people, beside the CDS Hooks API: HTML rendered on the server.

``smart/`` is the SMART companion app (issue 18): launched from a card's ``smart`` link, it reads
the patient's record with the clinician's authorisation and shows the course of every measure
behind the cards, plotted against the knowledge base's bands, with the full reasoning. Its
templates live in ``templates/smart/`` and its stylesheet in ``static/smart/``; ``http/``
mounts the routes. Nothing here stores or logs patient data.
"""
