"""Calls every endpoint of a running `nanoforge serve` through OpenAI's Python client.

Usage: check_openai_client.py BASE_URL API_KEY   (the server serves `minilm`, an encoder, and
`smollm2`, a decoder; started by check_openai_client.sh). Prints one line per check and exits 1
when any fails.
"""
import base64
import math
import struct
import sys

import openai

base_url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


# Models.
ids = [m.id for m in client.models.list().data]
check("models.list", ids == ["minilm", "smollm2"], str(ids))

# Embeddings: one string, a list, base64 equal to float.
one = client.embeddings.create(model="minilm", input="The quick brown fox jumps over the lazy dog.")
vector = one.data[0].embedding
check("embeddings: one string", len(vector) == 384 and abs(math.sqrt(sum(v * v for v in vector)) - 1) < 1e-4
      and one.usage.prompt_tokens > 0, f"dim {len(vector)}, usage {one.usage}")
texts = ["A list in Python is mutable.", "Tuples are immutable sequences.", "The quick brown fox jumps over the lazy dog."]
many = client.embeddings.create(model="minilm", input=texts)
check("embeddings: a list", [d.index for d in many.data] == [0, 1, 2]
      and max(abs(a - b) for a, b in zip(many.data[2].embedding, vector)) < 1e-5)
raw = client.embeddings.with_raw_response.create(model="minilm", input=texts[0], encoding_format="base64")
encoded = raw.http_response.json()["data"][0]["embedding"]
decoded = struct.unpack(f"<{len(base64.b64decode(encoded)) // 4}f", base64.b64decode(encoded))
check("embeddings: base64 is the float vector's bytes", list(decoded) == many.data[0].embedding)

# Completions: greedy, logprobs, echo with the prompt's log-probabilities, stop.
prompt = "The capital of France is"
greedy = client.completions.create(model="smollm2", prompt=prompt, max_tokens=12, temperature=0, logprobs=3)
choice = greedy.choices[0]
check("completions: greedy text", len(choice.text) > 0 and choice.finish_reason in ("stop", "length"), repr(choice.text))
check("completions: logprobs", len(choice.logprobs.tokens) == greedy.usage.completion_tokens
      and all(len(t) <= 3 for t in choice.logprobs.top_logprobs)
      and all(lp <= 0 for lp in choice.logprobs.token_logprobs), f"{greedy.usage}")
again = client.completions.create(model="smollm2", prompt=prompt, max_tokens=12, temperature=0)
check("completions: greedy is deterministic", again.choices[0].text == choice.text)
echo = client.completions.create(model="smollm2", prompt=prompt, max_tokens=0, echo=True, logprobs=1)
lp = echo.choices[0].logprobs
check("completions: echo gives the prompt's log-probabilities", echo.choices[0].text == prompt
      and lp.token_logprobs[0] is None and all(v is not None and v <= 0 for v in lp.token_logprobs[1:])
      and "".join(lp.tokens) == prompt, f"{lp.tokens}")
stopped = client.completions.create(model="smollm2", prompt="Count: 1, 2, 3,", max_tokens=20, temperature=0, stop=[" 6"])
check("completions: stop string", " 6" not in stopped.choices[0].text and stopped.choices[0].finish_reason == "stop",
      repr(stopped.choices[0].text))
sampled = [client.completions.create(model="smollm2", prompt=prompt, max_tokens=8, temperature=0.8, top_p=0.95, seed=7).choices[0].text
           for _ in range(2)]
check("completions: a seed repeats a sample", sampled[0] == sampled[1], repr(sampled))

# Streaming completions: the chunks concatenate to the whole reply.
chunks = list(client.completions.create(model="smollm2", prompt=prompt, max_tokens=12, temperature=0, stream=True))
check("completions: stream", "".join(c.choices[0].text for c in chunks if c.choices) == choice.text, f"{len(chunks)} chunks")

# Chat completions, plain and streamed, with logprobs.
messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
chat = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16, temperature=0, logprobs=True, top_logprobs=2)
message = chat.choices[0].message
check("chat: answer", message.role == "assistant" and len(message.content) > 0, repr(message.content))
check("chat: logprobs", len(chat.choices[0].logprobs.content) == chat.usage.completion_tokens
      and all(len(t.top_logprobs) <= 2 for t in chat.choices[0].logprobs.content))
stream = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16, temperature=0, stream=True,
                                        stream_options={"include_usage": True})
parts, usage = [], None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage
check("chat: stream", "".join(parts) == message.content and usage is not None and usage.completion_tokens == chat.usage.completion_tokens)

# Errors as the client's exception types.
def raises(name, kind, call):
    try:
        call()
    except kind as e:
        check(name, True, f"{type(e).__name__} {getattr(e, 'status_code', '')}")
    except Exception as e:  # noqa: BLE001 — any other outcome is the failure reported
        check(name, False, f"{type(e).__name__}: {e}")
    else:
        check(name, False, "no error")


raises("error: unknown model → 404", openai.NotFoundError, lambda: client.completions.create(model="nope", prompt="x", max_tokens=1))
raises("error: wrong type → 400", openai.BadRequestError,
       lambda: client.completions.create(model="smollm2", prompt="x", max_tokens="many"))
raises("error: too many tokens → 400", openai.BadRequestError,
       lambda: client.completions.create(model="smollm2", prompt="x", max_tokens=10_000_000))
raises("error: embeddings from a decoder → 400", openai.BadRequestError,
       lambda: client.embeddings.create(model="smollm2", input="x"))
wrong = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
raises("error: wrong API key → 401", openai.AuthenticationError, lambda: wrong.models.list())

print(f"{len(failures)} failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)
