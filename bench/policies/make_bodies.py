#!/usr/bin/env python3
"""Answer and request bodies for bench/policies.sh: python3 make_bodies.py DIR
1k.json / 16k.json: a JSON object of about that size (an order with items);
16k.xml: the same kind of document as XML. (The POSTed body1k.json is committed.)"""
import json
import os
import sys


def order(n_items):
    return {"id": "ord-1001", "customer": {"id": "c-42", "name": "Ada Lovelace", "tier": "gold"},
            "currency": "EUR", "status": "open",
            "items": [{"sku": f"SKU-{i:05d}", "name": f"Item number {i}", "quantity": i % 7 + 1,
                       "price": round(3.5 + i * 0.25, 2)} for i in range(n_items)]}


def fit(size):
    n = 1
    while len(json.dumps(order(n + 1))) <= size:
        n += 1
    return order(n)


def xml(doc):
    items = "".join(f'<item sku="{i["sku"]}"><name>{i["name"]}</name><quantity>{i["quantity"]}</quantity>'
                    f'<price>{i["price"]}</price></item>' for i in doc["items"])
    return (f'<?xml version="1.0" encoding="UTF-8"?><order id="{doc["id"]}"><currency>{doc["currency"]}</currency>'
            f'<status>{doc["status"]}</status><items>{items}</items></order>')


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, size in (("1k.json", 1024), ("16k.json", 16384)):
    with open(os.path.join(out, name), "w") as f:
        json.dump(fit(size), f)
doc = order(1)
n = 1
while len(xml(order(n + 1))) <= 16384:
    n += 1
with open(os.path.join(out, "16k.xml"), "w") as f:
    f.write(xml(order(n)))
