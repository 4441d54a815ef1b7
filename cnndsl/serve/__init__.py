"""`cnndsl serve [FILE|NAME]`: the playground — edit .cnn text in the browser and see the diagram, the
per-layer table and the totals follow as you type; mistakes marked on their lines; a small network trained
on the built-in digits from the page. A local web app (Starlette and uvicorn, the `serve` extra); the
page's scripts ship inside the package, so it works offline.
"""
