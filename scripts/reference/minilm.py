"""MiniLM-L6 reference embeddings with sentence-transformers (PyTorch, CPU, float32).

Usage: minilm.py MODEL_DIR OUT_JSON
"""

import sys

import torch
from sentence_transformers import SentenceTransformer

from common import provenance, write

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The quick brown fox jumps over the lazy dog.",
    "Optimistic rollups assume a claim is valid unless someone proves otherwise.",
    "Fraud proofs narrow a disagreement down to a single instruction.",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "I can't believe it's not butter!",
    "Ceci n'est pas une pipe.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は日本の首都です。",
    "Emoji test: 🙂🚀 and accents: café, naïve, résumé.",
    "Numbers like 3.14159, 2,718 and 1e-9 appear in text too.",
    "   Leading and trailing spaces, and    repeated   spaces.   ",
    "UPPER CASE AND lower case are the same for an uncased model.",
    "a",
    "The mitochondria is the powerhouse of the cell, and this sentence is a little longer than the others so that "
    "the encoder sees a few dozen tokens of context in one go, with punctuation; commas, and a final full stop.",
]


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    tok = model.tokenizer
    emb = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True, normalize_embeddings=False)
    cases = []
    for text, e in zip(SENTENCES, emb):
        ids = tok(text, truncation=True, max_length=128)["input_ids"]
        cases.append({"text": text, "ids": [int(i) for i in ids], "embedding": [float(x) for x in e]})
    write(
        out,
        {
            "model": "minilm-l6",
            "reference": "sentence-transformers SentenceTransformer.encode, float32, CPU",
            "provenance": provenance(
                "minilm", f"{model_dir}/model.safetensors", ["torch", "transformers", "sentence-transformers", "tokenizers"]
            ),
            "cases": cases,
        },
    )


if __name__ == "__main__":
    main()
