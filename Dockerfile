# A Docker Space: port 7860, uid 1000. State goes to DATABASE_URL (a Space's disk does not
# survive a restart), else to SQLite in ./data.
FROM python:3.11-slim

RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /home/user/app

# The dependencies first, from the lock, in a layer of their own: a change to the code or the
# README does not install them again.
RUN python -m venv /home/user/venv
COPY --chown=user requirements.lock ./
RUN python -m pip install -r requirements.lock

COPY --chown=user pyproject.toml README.md ./
COPY --chown=user bot ./bot
COPY --chown=user prompts ./prompts
RUN python -m pip install --no-deps .
# Compiled now, not at the first start: a Space starts from this image after every restart,
# and compiling the bot's modules there would add about 0.1 s to each (measured: 109 modules).
RUN python -m compileall -q bot

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '7860'), timeout=4)"
CMD ["python", "-m", "bot"]
