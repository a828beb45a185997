class Media:
    pass


class File(Media):
    def __init__(self, path: str) -> None:
        self.path = path


class Sound(File):
    pass
