"""One module per DVC stage: its typed per-song inputs, job building, the call of its one pure per-song
function (through the shared runner) and its writing. `base` holds what every stage shares.

The entry points in the project's `stages/` folder and the `songset` command call these; nothing here is
imported by `songset/__init__.py`, so a stage loads only its own module and what that module uses.
"""
