/**
 * A download's owner address book, pure: node id ↔ address, owners that moved (listed at a new
 * address after a restart: reached there from then on), and which owners' traffic uses a data
 * socket of their own (the first {@link MAX_DATA_SOCKETS} listed, for the whole download). The {@link DownloadCore} asks it who sent a datagram and where an
 * owner is; it forgets an owner's address cookie when the book reports the owner moved.
 * @module
 */
import type { PeerAddress } from "../../wire/address.ts";
import { addressKey, toNetAddr } from "../../net/host_port.ts";

/** Owners beyond this many share the peer's main socket. */
export const MAX_DATA_SOCKETS = 12;

/** Options for {@link OwnerAddresses}. */
export interface OwnerAddressesOptions {
  /** This peer's node id: never an owner of its own download. */
  selfId: string;
  /** Give owners a data socket of their own (at most {@link MAX_DATA_SOCKETS}). @default false */
  dataSockets?: boolean | undefined;
  /** Test hook: rewrite an owner's address before contacting it. */
  mapAddress?: ((address: PeerAddress, nodeId: string) => PeerAddress) | undefined;
}

/**
 * Owners by node id and by address.
 *
 * @example An owner that restarts on another port is reached there
 * ```ts
 * import assert from "node:assert/strict";
 * import { OwnerAddresses } from "./owner_addresses.ts";
 *
 * const book = new OwnerAddresses({ selfId: "me" });
 * const at = (port: number) => ({ family: 4 as const, host: "127.0.0.1", port });
 * assert.deepEqual(book.add([{ nodeId: "a", address: at(4000) }, { nodeId: "me", address: at(1) }]), []);
 * assert.equal(book.size, 1);
 * assert.deepEqual(book.add([{ nodeId: "a", address: at(4001) }]), ["a"]); // moved
 * assert.equal(book.ownerAt({ hostname: "127.0.0.1", port: 4000 }), undefined);
 * assert.equal(book.ownerAt({ hostname: "127.0.0.1", port: 4001 }), "a");
 * ```
 */
export class OwnerAddresses {
  readonly #o: OwnerAddressesOptions;
  readonly #ownerByAddr = new Map<string, string>();
  readonly #addrByOwner = new Map<string, Deno.NetAddr>();
  readonly #dataSocketOwners = new Set<string>();
  /** What {@link ownerAt} found for each source object (checked again at each use). */
  readonly #bySource = new WeakMap<
    { hostname: string; port: number },
    { hostname: string; port: number; key: string; owner: string | undefined }
  >();
  #last: { hostname: string; port: number; key: string; owner: string | undefined } = {
    hostname: "",
    port: -1,
    key: "",
    owner: undefined,
  };

  /** @param options this peer's id, data sockets, and the test hook */
  constructor(options: OwnerAddressesOptions) {
    this.#o = options;
  }

  /** Owners known. */
  get size(): number {
    return this.#addrByOwner.size;
  }

  /** The owners' node ids, in the order they were first listed. */
  owners(): IterableIterator<string> {
    return this.#addrByOwner.keys();
  }

  /**
   * Where an owner is reached.
   *
   * @param owner its node id
   * @returns its address, or undefined for an unknown owner
   */
  addressOf(owner: string): Deno.NetAddr | undefined {
    return this.#addrByOwner.get(owner);
  }

  /**
   * Who sent a datagram.
   *
   * @param from the datagram's source
   * @returns the owner at that address, or undefined
   */
  ownerAt(from: { hostname: string; port: number }): string | undefined {
    // The latest sender is remembered, so a stream of datagrams builds no key string each; so is
    // each source object (the receive path hands out one per sender), for a swarm's senders
    const last = this.#last;
    if (last.port === from.port && last.hostname === from.hostname && last.owner !== undefined) {
      if (this.#ownerByAddr.get(last.key) === last.owner) return last.owner;
    }
    let seen = this.#bySource.get(from);
    if (
      seen === undefined || seen.port !== from.port || seen.hostname !== from.hostname ||
      this.#ownerByAddr.get(seen.key) !== seen.owner
    ) {
      const key = addressKey(from);
      seen = { hostname: from.hostname, port: from.port, key, owner: this.#ownerByAddr.get(key) };
      this.#bySource.set(from, seen);
    }
    this.#last = seen;
    return seen.owner;
  }

  /**
   * Adds owners (skipping this peer); a known owner at a new address is reached there.
   *
   * @param owners owners as the tracker listed them
   * @returns the owners that moved, in order: their address cookies are no longer valid
   */
  add(owners: readonly { nodeId: string; address: PeerAddress }[]): string[] {
    const moved: string[] = [];
    for (const o of owners) {
      if (o.nodeId === this.#o.selfId) continue;
      const net = toNetAddr(
        this.#o.mapAddress ? this.#o.mapAddress(o.address, o.nodeId) : o.address,
      );
      const old = this.#addrByOwner.get(o.nodeId);
      if (old !== undefined) {
        if (addressKey(old) === addressKey(net)) continue;
        this.#ownerByAddr.delete(addressKey(old));
        moved.push(o.nodeId);
      }
      this.#addrByOwner.set(o.nodeId, net);
      this.#ownerByAddr.set(addressKey(net), o.nodeId);
      if (old === undefined) this.#useDataSocket(o.nodeId);
    }
    return moved;
  }

  /**
   * Gives an owner a data socket of its own, while data sockets are on and fewer than
   * {@link MAX_DATA_SOCKETS} are in use. Done when the owner is first listed and never changed
   * after: the owner's address cookie is bound to the port its PROBE left from, so all of its
   * traffic (PROBEs, manifest and block requests) uses this one socket.
   */
  #useDataSocket(owner: string): void {
    const owners = this.#dataSocketOwners;
    if (this.#o.dataSockets && owners.size < MAX_DATA_SOCKETS) owners.add(owner);
  }

  /**
   * The data socket an owner's block traffic uses.
   *
   * @param owner its node id
   * @returns the socket's name (the owner), or undefined for the peer's main socket
   */
  dataSocketOf(owner: string): string | undefined {
    return this.#dataSocketOwners.has(owner) ? owner : undefined;
  }
}
