// A frontend team's use of Curio, through types generated from the live /api/schema/ (openapi-typescript) and
// openapi-fetch: every list type, items, events, feedback, consent, export, erasure, a pin and its impact, a
// training run. tests/http/test_generated_clients.py generates curio.d.ts, compiles this with `tsc --strict`
// (no `any`, no casts: the test checks) and runs it against a served instance.
// Arguments: the base URL, a write token (sent as `Bearer`), a shopper with history, an item the model knows, a
// prefix for the ids this run creates.
import createClient from "openapi-fetch";
import type { components, paths } from "./curio";

type ListItem = components["schemas"]["ListItem"];
type ListResponse = components["schemas"]["ListResponse"];
type Source = components["schemas"]["SourceEnum"];
type ReasonType = components["schemas"]["ReasonTypeEnum"];

function arg(index: number, name: string): string {
  const value = process.argv[2 + index];
  if (!value) throw new Error(`argument ${index + 1} (${name}) is missing`);
  return value;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

function got<T>(data: T | undefined, error: unknown, what: string): T {
  if (data === undefined) throw new Error(`${what}: no data (${JSON.stringify(error)})`);
  return data;
}

const base = arg(0, "base URL");
const token = arg(1, "write token");
const userId = arg(2, "shopper");
const itemId = arg(3, "item");
const prefix = arg(4, "prefix");
const client = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });

const SOURCES: readonly Source[] = ["model", "pinned", "boosted", "popular", "new"];
const REASONS: readonly ReasonType[] = ["history", "similar", "content", "popular", "curated"];

function checkList(list: ListResponse, what: string, explained = false): ListItem[] {
  check(list.recommendation_id.length > 0, `${what}: recommendation_id`);
  list.items.forEach((item: ListItem, index: number) => {
    check(item.rank === index + 1, `${what}: rank ${item.rank} at ${index}`);
    check(item.score >= 0 && item.score <= 1, `${what}: score ${item.score}`);
    check(SOURCES.includes(item.source), `${what}: source ${item.source}`);
    check(item.reasons.length > 0, `${what}: ${item.item_id} has reasons`);
    for (const reason of item.reasons) {
      check(REASONS.includes(reason.type) && reason.text.length > 0, `${what}: reason ${reason.type}`);
    }
    for (const annotation of item.annotations) check(annotation.label.length > 0, `${what}: annotation`);
    check(item.price === null || /^\d+\.\d\d$/.test(item.price), `${what}: price ${item.price}`);
    if (explained) {
      const trace = item.trace;
      check(trace !== undefined && trace.final_rank === item.rank, `${what}: trace of ${item.item_id}`);
    } else {
      check(item.trace === undefined, `${what}: no trace without explain`);
    }
  });
  return list.items;
}

async function main(): Promise<void> {
  // The catalog: two new items, then one of them read back.
  const newItems = [`${prefix}-1`, `${prefix}-2`];
  {
    const { data, error } = await client.POST("/api/v1/items/", {
      body: newItems.map((id: string, n: number) => ({ item_id: id, title: `Client item ${n}`, category: "books",
                                                      price: "12.50", attributes: { brand: "Acme" } })),
    });
    const counts = got(data, error, "items");
    check(counts.created + counts.updated === 2, "items upserted");
  }
  {
    const { data, error } = await client.GET("/api/v1/items/{item_id}/", { params: { path: { item_id: newItems[0] ?? "" } } });
    const item = got(data, error, "item");
    check(item.title === "Client item 0" && item.price === "12.50" && item.available, "item read back");
  }
  {
    const { error, response } = await client.GET("/api/v1/items/{item_id}/", { params: { path: { item_id: `${prefix}-none` } } });
    check(response.status === 404 && error !== undefined && error.detail.length > 0, "unknown item: 404 with detail");
  }

  // Events of a new shopper (later exported and erased).
  const shopper = `${prefix}-shopper`;
  {
    const { data, error } = await client.POST("/api/v1/events/", {
      body: [{ user_id: shopper, item_id: itemId, type: "view" },
             { user_id: shopper, item_id: newItems[0] ?? "", type: "purchase", value: 2, event_id: `${prefix}-order-1` }],
    });
    const counts = got(data, error, "events");
    check(counts.accepted === 2 && counts.duplicates === 0, `events accepted: ${JSON.stringify(counts)}`);
  }

  // Every list type.
  {
    const { data, error } = await client.GET("/api/v1/users/{user_id}/recommendations/", {
      params: { path: { user_id: userId }, query: { limit: 5, explain: "full" } },
    });
    const list = got(data, error, "personal list");
    const items = checkList(list, "personal", true);
    check(list.user_id === userId && items.length === 5, "personal list for the shopper");
    check(list.model_version !== null && items.some((i: ListItem) => i.source === "model"), "personal: from the model");
  }
  {
    const { data, error } = await client.GET("/api/v1/items/{item_id}/similar/", {
      params: { path: { item_id: itemId }, query: { limit: 4, placement: "product_page" } },
    });
    const list = got(data, error, "similar list");
    const items = checkList(list, "similar");
    check(list.placement === "product_page" && items.every((i: ListItem) => i.item_id !== itemId), "similar list");
  }
  {
    const { data, error } = await client.POST("/api/v1/recommendations/basket/", {
      body: { item_ids: [itemId], limit: 3 },
    });
    const list = got(data, error, "basket list");
    check(checkList(list, "basket").length > 0 && list.raw === undefined, "basket list");
  }
  {
    const { data, error } = await client.POST("/api/v1/recommendations/batch/", {
      body: { user_ids: [userId, shopper], limit: 3 },
    });
    const batch = got(data, error, "batch");
    check(batch.results.length === 2, "batch: one list per shopper");
    batch.results.forEach((list: ListResponse, n: number) => checkList(list, `batch ${n}`));
    check(batch.results[0]?.user_id === userId && batch.results[1]?.user_id === shopper, "batch order");
  }
  {
    const { data, error } = await client.GET("/api/v1/popular/", { params: { query: { limit: 3, raw: true } } });
    const list = got(data, error, "popular");
    check(checkList(list, "popular").length === 3 && list.raw === true && list.user_id === null, "raw popular list");
  }

  // Feedback and consent.
  {
    const { data, error, response } = await client.POST("/api/v1/users/{user_id}/feedback/", {
      params: { path: { user_id: shopper } },
      body: { item_id: itemId, type: "not_interested" },
    });
    const feedback = got(data, error, "feedback");
    check(response.status === 201 && feedback.type === "not_interested" && feedback.status === "none", "feedback");
  }
  {
    const { data, error } = await client.PATCH("/api/v1/users/{user_id}/", {
      params: { path: { user_id: shopper } },
      body: { personalization_consent: false },
    });
    const stored = got(data, error, "consent");
    check(stored.user_id === shopper && stored.personalization_consent === false, "consent off");
  }

  // A pin: created, seen in a list, measured, then removed.
  let pinId = 0;
  {
    const { data, error, response } = await client.POST("/api/v1/curation/pins/", {
      body: { item_id: newItems[1] ?? "", position: 1, placement: `${prefix}-home`.toLowerCase() },
    });
    const pin = got(data, error, "pin");
    check(response.status === 201 && pin.kind === "pin" && pin.position === 1 && pin.status === "active", "pin created");
    pinId = pin.id;
  }
  {
    const { data, error } = await client.GET("/api/v1/popular/", {
      params: { query: { limit: 3, placement: `${prefix}-home`.toLowerCase() } },
    });
    const first = checkList(got(data, error, "pinned list"), "pinned list")[0];
    check(first !== undefined && first.item_id === newItems[1] && first.source === "pinned", "the pin holds #1");
    check(first?.reasons[0]?.type === "curated", "a pinned item's first reason is curated");
  }
  {
    const { data, error } = await client.GET("/api/v1/curation/pins/{id}/impact/", { params: { path: { id: pinId } } });
    const impact = got(data, error, "impact");
    check(impact.exposed.impressions >= 0 && impact.holdout.impressions >= 0, "impact arms");
    check(["helps", "hurts", "unknown"].includes(impact.verdict) && impact.needed_impressions > 0, "impact verdict");
    check(impact.difference.ctr.value === null || typeof impact.difference.ctr.value === "number", "ctr difference");
  }
  {
    const { data, error } = await client.PATCH("/api/v1/curation/pins/{id}/", {
      params: { path: { id: pinId } }, body: { enabled: false },
    });
    check(got(data, error, "pin disabled").status === "disabled", "pin disabled");
    const { data: page, error: listError } = await client.GET("/api/v1/curation/pins/", { params: { query: { limit: 10 } } });
    check(got(page, listError, "pins").results.some((p) => p.id === pinId), "pin listed");
    const { response } = await client.DELETE("/api/v1/curation/pins/{id}/", { params: { path: { id: pinId } } });
    check(response.status === 204, "pin deleted");
  }

  // Export, then erasure.
  {
    const { data, error } = await client.GET("/api/v1/users/{user_id}/data/", { params: { path: { user_id: shopper } } });
    const exported = got(data, error, "export");
    check(exported.user_id === shopper && exported.events.length === 2, "export: the events");
    check(exported.events.some((e) => e.type === "purchase" && e.value === 2), "export: the purchase");
    check(exported.feedback[0]?.type === "not_interested" && exported.merged_ids.length === 0, "export: feedback");
    check(exported.personalization_consent === false && exported.exported_at.length > 0, "export: consent");
  }
  {
    const { response } = await client.DELETE("/api/v1/users/{user_id}/", { params: { path: { user_id: shopper } } });
    check(response.status === 204, "erased");
    const { error, response: after } = await client.GET("/api/v1/users/{user_id}/data/", { params: { path: { user_id: shopper } } });
    check(after.status === 404 && error !== undefined, "nothing left after erasure");
  }

  // A training run, to its end.
  {
    const { data, error, response } = await client.POST("/api/v1/training-runs/", {});
    const started = got(data, error, "training start");
    check(response.status === 202 && ["queued", "running"].includes(started.status), "training started");
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { data: run, error: runError } = await client.GET("/api/v1/training-runs/{run_id}/", {
        params: { path: { run_id: started.id } },
      });
      const current = got(run, runError, "training run");
      if (current.status === "succeeded" || current.status === "rejected" || current.status === "failed") {
        check(current.status !== "failed", `training failed: ${current.error ?? ""}`);
        const version = current.model_version;
        check(version !== null && version.run === current.id && version.kind.length > 0, "the run's model version");
        break;
      }
      check(Date.now() < deadline, "training finished in time");
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const { data: versions, error: versionsError } = await client.GET("/api/v1/model-versions/");
    check(got(versions, versionsError, "versions").some((v) => v.is_active), "an active model version");
  }
  console.log("typescript scenario: ok");
}

main().catch((exc: unknown) => {
  console.error(exc);
  process.exit(1);
});
