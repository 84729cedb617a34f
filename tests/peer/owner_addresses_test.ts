import assert from "node:assert/strict";
import { MAX_DATA_SOCKETS, OwnerAddresses } from "../../lib/peer/core/owner_addresses.ts";
import type { PeerAddress } from "../../lib/wire/address.ts";

const none = { permissions: "none" } as const;

const at = (port: number, host = "127.0.0.1"): PeerAddress => ({
  family: host.includes(":") ? 6 : 4,
  host,
  port,
});
const net = (port: number, hostname = "127.0.0.1"): Deno.NetAddr => ({
  transport: "udp",
  hostname,
  port,
});

Deno.test("OwnerAddresses.add() skips this peer and maps node id ↔ address both ways", none, () => {
  const book = new OwnerAddresses({ selfId: "me" });
  const moved = book.add([
    { nodeId: "a", address: at(4000) },
    { nodeId: "me", address: at(4001) },
    { nodeId: "b", address: at(4002, "::1") },
  ]);
  assert.deepEqual(moved, []);
  assert.equal(book.size, 2);
  assert.deepEqual([...book.owners()], ["a", "b"]);
  assert.deepEqual(book.addressOf("b"), net(4002, "::1"));
  assert.equal(book.ownerAt(net(4000)), "a");
  assert.equal(book.ownerAt(net(4001)), undefined);
  assert.equal(book.ownerAt(net(4002, "::1")), "b");
  assert.equal(book.addressOf("me"), undefined);
});

Deno.test("OwnerAddresses.add() reports an owner at a new address as moved, once", none, () => {
  const book = new OwnerAddresses({ selfId: "me" });
  book.add([{ nodeId: "a", address: at(4000) }]);
  assert.deepEqual(book.add([{ nodeId: "a", address: at(4000) }]), []); // same address
  assert.deepEqual(book.add([{ nodeId: "a", address: at(5000) }]), ["a"]);
  assert.equal(book.ownerAt(net(4000)), undefined, "the old address is forgotten");
  assert.equal(book.ownerAt(net(5000)), "a");
  assert.deepEqual(book.add([{ nodeId: "a", address: at(5000) }]), []);
  assert.equal(book.size, 1);
});

Deno.test("OwnerAddresses rewrites addresses with mapAddress before storing them", none, () => {
  const book = new OwnerAddresses({
    selfId: "me",
    mapAddress: (a, id) => id === "a" ? { ...a, port: a.port + 1 } : a,
  });
  book.add([{ nodeId: "a", address: at(4000) }, { nodeId: "b", address: at(4100) }]);
  assert.equal(book.ownerAt(net(4001)), "a");
  assert.equal(book.ownerAt(net(4100)), "b");
});

Deno.test(
  "OwnerAddresses.add() gives the first MAX_DATA_SOCKETS owners their own socket, for good",
  none,
  () => {
    const at = (port: number) => ({ family: 4 as const, host: "127.0.0.1", port });
    const off = new OwnerAddresses({ selfId: "me" });
    off.add([{ nodeId: "a", address: at(4000) }]);
    assert.equal(off.dataSocketOf("a"), undefined, "data sockets off: the main socket");
    const on = new OwnerAddresses({ selfId: "me", dataSockets: true });
    on.add([{ nodeId: "me", address: at(1) }]);
    assert.equal(on.dataSocketOf("me"), undefined, "never a socket for itself");
    for (let i = 0; i < MAX_DATA_SOCKETS + 3; i++) {
      on.add([{ nodeId: `o${i}`, address: at(5000 + i) }]);
    }
    assert.equal(on.dataSocketOf("o0"), "o0");
    assert.equal(on.dataSocketOf(`o${MAX_DATA_SOCKETS - 1}`), `o${MAX_DATA_SOCKETS - 1}`);
    assert.equal(on.dataSocketOf(`o${MAX_DATA_SOCKETS}`), undefined);
    // An owner that moves keeps its socket (its traffic never changes port; it probes again)
    on.add([{ nodeId: "o0", address: at(6000) }]);
    assert.equal(on.dataSocketOf("o0"), "o0");
  },
);

Deno.test(
  "OwnerAddresses.ownerAt() with senders alternating follows owners that move or leave",
  none,
  () => {
    const book = new OwnerAddresses({ selfId: "me" });
    book.add([{ nodeId: "a", address: at(4000) }, { nodeId: "b", address: at(4000, "10.0.0.3") }]);
    // One object per sender, as the receive path hands them out
    const fromA = net(4000), fromB = net(4000, "10.0.0.3"), fromC = net(4002);
    for (let i = 0; i < 3; i++) {
      assert.equal(book.ownerAt(fromA), "a");
      assert.equal(book.ownerAt(fromB), "b");
      assert.equal(book.ownerAt(fromC), undefined);
    }
    // a moves to c's address: its old address is nobody's, the new one is a's
    assert.deepEqual(book.add([{ nodeId: "a", address: at(4002) }]), ["a"]);
    assert.equal(book.ownerAt(fromB), "b");
    assert.equal(book.ownerAt(fromA), undefined);
    assert.equal(book.ownerAt(fromC), "a");
    assert.equal(book.ownerAt(fromB), "b");
    assert.equal(book.ownerAt(fromC), "a");
    // A source object that changed is looked up again
    fromB.port = 4002;
    assert.equal(book.ownerAt(fromB), undefined);
    assert.equal(book.ownerAt(fromA), undefined);
  },
);
