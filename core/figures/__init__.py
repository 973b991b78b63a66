"""All plotly figure builders, one submodule per page topic: data in, `go.Figure` out. Nothing here imports streamlit."""

from core.figures.classroom import *  # noqa: F401,F403
from core.figures.common import *  # noqa: F401,F403
from core.figures.inspect import *  # noqa: F401,F403
from core.figures.shapes import *  # noqa: F401,F403
from core.figures.teach import *  # noqa: F401,F403
from core.figures.text import *  # noqa: F401,F403
from core.figures.training import *  # noqa: F401,F403
from core.figures.vectors import *  # noqa: F401,F403
