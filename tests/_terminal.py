"""A stand-in for a terminal's stderr: progress bars are drawn only where ``isatty()`` is true."""


class FakeTerminal:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass

    def isatty(self):
        return True
