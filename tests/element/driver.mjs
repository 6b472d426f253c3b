// A Matrix test client on Element's own crypto stack: matrix-js-sdk with its Rust crypto
// (@matrix-org/matrix-sdk-crypto-wasm), driven by tests/element_client.py.
//
// Protocol: one JSON request per line on stdin, {"id": N, "op": "...", ...args}; one JSON line
// per answer on stdout, {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false,
// "error": "..."}; unsolicited lines {"event": {...}} (verification requests and their phase
// changes). stdout is the protocol channel only: every log line goes to stderr.
//
// One process is one device of one user. The crypto store is in memory
// (initRustCrypto({useIndexedDB: false})), so a "restart" is a new login, a new device.

import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { format } from "node:util";

// Before the sdk is loaded (its loglevel loggers bind the console methods): nothing may reach
// stdout. warn and error go to stderr; the sdk's chatter (log/info/debug/trace, several lines a
// sync) only when ELEMENT_DRIVER_LOG=debug.
const LOG_LEVEL = process.env.ELEMENT_DRIVER_LOG || "warn";
const toStderr = (...args) => process.stderr.write(`${format(...args)}\n`);
const chatter = ["trace", "debug", "info"].includes(LOG_LEVEL) ? toStderr : () => {};
console.log = chatter;
console.info = chatter;
console.debug = chatter;
console.trace = chatter;
console.warn = toStderr;
console.error = toStderr;

// The packages live in the harness folder (.element/ at the repo root, installed by `make
// install`), not beside this file: ESM ignores NODE_PATH, so resolve them from there explicitly.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const HARNESS_DIR = process.env.ELEMENT_HARNESS_DIR || path.resolve(HERE, "..", "..", ".element");
const requireFromHarness = createRequire(path.join(HARNESS_DIR, "package.json"));
const load = (specifier) => import(pathToFileURL(requireFromHarness.resolve(specifier)).href);

const sdk = await load("matrix-js-sdk");
const { logger } = await load("matrix-js-sdk/lib/logger.js");
const cryptoApi = await load("matrix-js-sdk/lib/crypto-api/index.js");

const {
    ClientEvent,
    EventType,
    MatrixError,
    MsgType,
    SyncState,
    createClient,
} = sdk;
const {
    AllDevicesIsolationMode,
    CryptoEvent,
    DecryptionFailureCode,
    DeviceVerification,
    EventShieldColour,
    EventShieldReason,
    OnlySignedDevicesIsolationMode,
    VerificationPhase,
    VerificationRequestEvent,
    VerifierEvent,
} = cryptoApi;

logger.setLevel(LOG_LEVEL, false);

const DEFAULT_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- protocol

function emit(line) {
    process.stdout.write(`${JSON.stringify(line)}\n`);
}

function emitEvent(event) {
    emit({ event });
}

function log(...args) {
    process.stderr.write(`[driver ${state.userId ?? "-"} ${state.deviceId ?? "-"}] ${format(...args)}\n`);
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(what, check, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 50) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(intervalMs);
    }
}

function need(args, name) {
    const value = args[name];
    if (value === undefined || value === null || value === "") throw new Error(`missing argument '${name}'`);
    return value;
}

// ---------------------------------------------------------------- state

const state = {
    client: null,
    userId: null,
    deviceId: null,
    password: null,
    homeserver: null,
    // Our ids ("v1", "v2", ...) for verification requests, both ways.
    requests: new Map(),
    requestIds: new WeakMap(),
    nextRequest: 1,
};

function client() {
    if (!state.client) throw new Error("not logged in: call 'login' or 'login_raw' first");
    return state.client;
}

function crypto() {
    const c = client().getCrypto();
    if (!c) throw new Error("crypto is not initialised");
    return c;
}

// ---------------------------------------------------------------- login

function isolationMode(name) {
    if (name === undefined || name === null || name === "only_signed") return new OnlySignedDevicesIsolationMode();
    if (name === "all") return new AllDevicesIsolationMode(false);
    if (name === "all_strict") return new AllDevicesIsolationMode(true);
    throw new Error(`unknown isolation mode '${name}' (only_signed, all, all_strict)`);
}

function isolationName(mode) {
    if (mode instanceof OnlySignedDevicesIsolationMode) return "only_signed";
    return mode.errorOnVerifiedUserProblems ? "all_strict" : "all";
}

async function passwordAuth(makeRequest) {
    // Answer user-interactive auth with m.login.password: try without auth first (Synapse lets
    // a first upload of cross-signing keys through), then with the password and the session.
    try {
        await makeRequest(null);
        return;
    } catch (error) {
        const session = error?.data?.session;
        const flows = error?.data?.flows;
        if (!(error instanceof MatrixError) || error.httpStatus !== 401 || !flows) throw error;
        await makeRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: state.userId },
            password: state.password,
            session,
        });
    }
}

async function login(args, { bootstrap }) {
    if (state.client) throw new Error("already logged in; one driver process is one device");
    const homeserver = need(args, "homeserver");
    const userId = need(args, "user_id");
    const password = need(args, "password");
    const mode = isolationMode(args.isolation);

    const bare = createClient({ baseUrl: homeserver, logger });
    const response = await bare.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: userId },
        password,
        initial_device_display_name: args.device_name ?? "Element test harness",
    });
    bare.stopClient();

    state.userId = response.user_id;
    state.deviceId = response.device_id;
    state.password = password;
    state.homeserver = homeserver;

    const matrix = createClient({
        baseUrl: homeserver,
        userId: response.user_id,
        deviceId: response.device_id,
        accessToken: response.access_token,
        verificationMethods: ["m.sas.v1"],
        cryptoCallbacks: {},
        logger,
    });
    state.client = matrix;
    await matrix.initRustCrypto({ useIndexedDB: false });
    const c = matrix.getCrypto();
    c.setDeviceIsolationMode(mode);
    matrix.on(CryptoEvent.VerificationRequestReceived, (request) => {
        const id = track(request);
        emitEvent({ type: "verification_request", ...describeRequest(id, request) });
    });

    const prepared = new Promise((resolve) => {
        const onSync = (syncState, _previous, data) => {
            if (syncState === SyncState.Prepared || syncState === SyncState.Syncing) {
                matrix.off(ClientEvent.Sync, onSync);
                resolve();
            } else if (syncState === SyncState.Error) {
                log("sync error", data?.error?.message ?? data);
            }
        };
        matrix.on(ClientEvent.Sync, onSync);
    });
    await matrix.startClient({ initialSyncLimit: 50 });
    await withTimeout(prepared, args.timeout_ms ?? DEFAULT_TIMEOUT_MS, "the first sync");

    // Return only once the server has this device's keys, so that others see the device from now.
    await waitUntil(
        "this device's keys on the server",
        async () => {
            const answer = await matrix.downloadKeysForUsers([state.userId]);
            return Boolean(answer.device_keys?.[state.userId]?.[state.deviceId]);
        },
        args.timeout_ms ?? DEFAULT_TIMEOUT_MS,
        100,
    );

    let bootstrapped = false;
    const hadKeys = await c.userHasCrossSigningKeys(state.userId, true);
    if (bootstrap && !hadKeys) {
        await c.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth });
        bootstrapped = true;
    }
    const keys = await c.getOwnDeviceKeys();
    return {
        user_id: state.userId,
        device_id: state.deviceId,
        ed25519: keys.ed25519,
        curve25519: keys.curve25519,
        isolation: isolationName(mode),
        bootstrapped_cross_signing: bootstrapped,
        account_had_cross_signing: hadKeys,
        cross_signing_ready: await c.isCrossSigningReady(),
        crypto_version: c.getVersion(),
    };
}

function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- rooms

async function waitForRoom(roomId, { encrypted, membership = "join", timeoutMs }) {
    const c = crypto();
    await waitUntil(
        `room ${roomId} with membership ${membership}${encrypted ? " and encryption" : ""}`,
        async () => {
            const room = client().getRoom(roomId);
            if (!room || room.getMyMembership() !== membership) return false;
            if (encrypted && !(await c.isEncryptionEnabledInRoom(roomId))) return false;
            return true;
        },
        timeoutMs,
    );
}

async function createRoom(args) {
    const encrypted = args.encrypted !== false;
    const initialState = encrypted
        ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }]
        : [];
    const response = await client().createRoom({
        name: args.name,
        invite: args.invite ?? [],
        preset: args.preset ?? "private_chat",
        is_direct: args.is_direct ?? false,
        initial_state: initialState,
    });
    await waitForRoom(response.room_id, { encrypted, timeoutMs: args.timeout_ms });
    return { room_id: response.room_id };
}

async function join(args) {
    const roomId = need(args, "room_id");
    await client().joinRoom(roomId);
    await waitUntil(`room ${roomId} joined`, () => client().getRoom(roomId)?.getMyMembership() === "join", args.timeout_ms);
    // Wait for the room state to show whether the room is encrypted (m.room.encryption synced).
    const room = client().getRoom(roomId);
    const encrypted = room.hasEncryptionStateEvent();
    if (encrypted) await waitForRoom(roomId, { encrypted: true, timeoutMs: args.timeout_ms });
    return { room_id: roomId, encrypted };
}

async function invite(args) {
    await client().invite(need(args, "room_id"), need(args, "user_id"));
    return {};
}

async function leave(args) {
    await client().leave(need(args, "room_id"));
    return {};
}

function knownRoom(roomId) {
    const room = client().getRoom(roomId);
    if (!room) throw new Error(`room ${roomId} is not known to this client (not joined or not yet synced)`);
    return room;
}

async function send(args) {
    const roomId = need(args, "room_id");
    knownRoom(roomId);
    const content = { msgtype: args.msgtype ?? MsgType.Text, body: need(args, "body") };
    if (args.thread_root) {
        content["m.relates_to"] = {
            rel_type: "m.thread",
            event_id: args.thread_root,
            is_falling_back: !args.reply_to,
            "m.in_reply_to": { event_id: args.reply_to ?? args.thread_root },
        };
    } else if (args.reply_to) {
        content["m.relates_to"] = { "m.in_reply_to": { event_id: args.reply_to } };
    }
    if (args.mentions) content["m.mentions"] = { user_ids: args.mentions };
    if (args.extra_content) Object.assign(content, args.extra_content);
    const response = await client().sendEvent(roomId, EventType.RoomMessage, content);
    return { event_id: response.event_id };
}

async function edit(args) {
    const roomId = need(args, "room_id");
    knownRoom(roomId);
    const body = need(args, "body");
    const content = {
        msgtype: MsgType.Text,
        body: `* ${body}`,
        "m.new_content": { msgtype: MsgType.Text, body },
        "m.relates_to": { rel_type: "m.replace", event_id: need(args, "event_id") },
    };
    const response = await client().sendEvent(roomId, EventType.RoomMessage, content);
    return { event_id: response.event_id };
}

async function react(args) {
    const roomId = need(args, "room_id");
    knownRoom(roomId);
    // Sent the way Element sends it: the sdk never encrypts m.reaction (shouldEncryptEventForRoom).
    const response = await client().sendEvent(roomId, EventType.Reaction, {
        "m.relates_to": { rel_type: "m.annotation", event_id: need(args, "event_id"), key: need(args, "key") },
    });
    return { event_id: response.event_id };
}

async function redact(args) {
    const response = await client().redactEvent(need(args, "room_id"), need(args, "event_id"), undefined, {
        reason: args.reason,
    });
    return { event_id: response.event_id };
}

// ---------------------------------------------------------------- timeline

function attempt(fn, fallback) {
    try {
        return fn();
    } catch {
        return fallback;
    }
}

function enumName(enumObject, value) {
    if (value === null || value === undefined) return null;
    const name = enumObject[value];
    return typeof name === "string" ? name : String(value);
}

async function senderDevice(event, deviceCache) {
    const wireDevice = event.getWireContent()?.device_id;
    if (wireDevice) return wireDevice;
    const ed25519 = event.getClaimedEd25519Key();
    const sender = event.getSender();
    if (!ed25519 || !sender) return null;
    if (!deviceCache.has(sender)) {
        const map = await crypto().getUserDeviceInfo([sender], false);
        deviceCache.set(sender, map.get(sender) ?? new Map());
    }
    for (const device of deviceCache.get(sender).values()) {
        if (device.getFingerprint() === ed25519) return device.deviceId;
    }
    return null;
}

async function describeEvent(event, replacements, deviceCache) {
    const content = event.getOriginalContent() ?? {};
    const relates = content["m.relates_to"] ?? null;
    const failure = event.decryptionFailureReason;
    let shield = null;
    if (event.isEncrypted() && !event.isDecryptionFailure() && !event.isBeingDecrypted()) {
        const info = await crypto().getEncryptionInfoForEvent(event);
        if (info) {
            shield = {
                colour: enumName(EventShieldColour, info.shieldColour),
                reason: enumName(EventShieldReason, info.shieldReason),
            };
        }
    }
    let replacedBody = null;
    const replacing = event.replacingEvent();
    if (replacing && !replacing.isDecryptionFailure()) {
        replacedBody = replacing.getOriginalContent()?.["m.new_content"]?.body ?? null;
    }
    if (replacedBody === null && replacements.has(event.getId())) {
        replacedBody = replacements.get(event.getId());
    }
    let threadRoot = event.threadRootId ?? null;
    if (!threadRoot && relates?.rel_type === "m.thread") threadRoot = relates.event_id ?? null;
    return {
        event_id: event.getId(),
        type: event.getType(),
        wire_type: event.getWireType(),
        sender: event.getSender(),
        sender_device: event.isEncrypted() && !event.isDecryptionFailure() ? await senderDevice(event, deviceCache) : null,
        origin_server_ts: event.getTs(),
        state_key: event.getStateKey() ?? null,
        content,
        // null for an event that failed to decrypt (its content is then the sdk's m.bad.encrypted
        // placeholder, "** Unable to decrypt: ... **").
        body: typeof content.body === "string" && !event.isDecryptionFailure() ? content.body : null,
        is_encrypted: event.isEncrypted(),
        being_decrypted: event.isBeingDecrypted(),
        decryption_failure: failure === null ? null : enumName(DecryptionFailureCode, failure) ?? String(failure),
        redacted: event.isRedacted(),
        replaced_body: replacedBody,
        thread_root: threadRoot,
        in_reply_to: relates?.["m.in_reply_to"]?.event_id ?? null,
        shield,
    };
}

async function timeline(args) {
    const roomId = need(args, "room_id");
    const room = knownRoom(roomId);
    const events = room.getLiveTimeline().getEvents();
    // Edits (m.replace from the original sender), latest last, as a fallback when the sdk has not
    // aggregated them onto the original (MatrixEvent.replacingEvent()).
    const senders = new Map(events.map((e) => [e.getId(), e.getSender()]));
    const replacements = new Map();
    for (const event of events) {
        const relates = event.getOriginalContent()?.["m.relates_to"];
        if (relates?.rel_type !== "m.replace" || event.isDecryptionFailure()) continue;
        if (senders.get(relates.event_id) !== event.getSender()) continue;
        const body = event.getOriginalContent()?.["m.new_content"]?.body;
        if (typeof body === "string") replacements.set(relates.event_id, body);
    }
    const deviceCache = new Map();
    const wanted = args.include_state ? events : events.filter((e) => !e.isState());
    const limited = args.limit ? wanted.slice(-args.limit) : wanted;
    const result = [];
    for (const event of limited) result.push(await describeEvent(event, replacements, deviceCache));
    return result;
}

// ---------------------------------------------------------------- verification

function track(request) {
    const known = state.requestIds.get(request);
    if (known) return known;
    const id = `v${state.nextRequest++}`;
    state.requestIds.set(request, id);
    const entry = { request, verifier: null, verifyPromise: null, verifyError: null, lastPhase: request.phase };
    state.requests.set(id, entry);
    request.on(VerificationRequestEvent.Change, () => {
        if (request.phase !== entry.lastPhase) {
            entry.lastPhase = request.phase;
            emitEvent({ type: "verification_phase", ...describeRequest(id, request) });
        }
        // The other side chose SAS: accept it (Element's "verify by emoji" once the user accepted).
        if (request.phase === VerificationPhase.Started && request.verifier) runVerifier(entry, request.verifier);
    });
    return id;
}

function runVerifier(entry, verifier) {
    if (entry.verifier === verifier) return;
    entry.verifier = verifier;
    verifier.on(VerifierEvent.ShowSas, () => {
        const id = state.requestIds.get(entry.request);
        emitEvent({ type: "verification_sas", id });
    });
    entry.verifyPromise = verifier.verify().then(
        () => undefined,
        (error) => {
            entry.verifyError = error?.message ?? String(error);
            log("verification ended with", entry.verifyError);
        },
    );
}

function entryFor(args) {
    const id = need(args, "request_id");
    const entry = state.requests.get(id);
    if (!entry) throw new Error(`unknown verification request '${id}'`);
    return entry;
}

function describeRequest(id, request) {
    return {
        id,
        transaction_id: request.transactionId ?? null,
        other_user: request.otherUserId,
        other_device: request.otherDeviceId ?? null,
        in_room: Boolean(request.roomId),
        room_id: request.roomId ?? null,
        initiated_by_me: request.initiatedByMe,
        is_self_verification: request.isSelfVerification,
        phase: enumName(VerificationPhase, request.phase),
    };
}

async function requestVerification(args) {
    const userId = need(args, "user_id");
    let request;
    if (args.device_id) {
        request = await crypto().requestDeviceVerification(userId, args.device_id);
    } else if (args.room_id) {
        request = await crypto().requestVerificationDM(userId, args.room_id);
    } else if (userId === state.userId) {
        request = await crypto().requestOwnUserVerification();
    } else {
        throw new Error("request_verification needs device_id (to-device) or room_id (in-room DM)");
    }
    const id = track(request);
    return describeRequest(id, request);
}

async function acceptVerification(args) {
    const entry = entryFor(args);
    await entry.request.accept();
    await waitUntil("the ready phase", () => entry.request.phase >= VerificationPhase.Ready, args.timeout_ms);
    return describeRequest(args.request_id, entry.request);
}

async function startSas(args) {
    const entry = entryFor(args);
    const request = entry.request;
    await waitUntil("the ready phase", () => request.phase >= VerificationPhase.Ready, args.timeout_ms);
    if (request.phase === VerificationPhase.Started && request.verifier) {
        runVerifier(entry, request.verifier);
    } else {
        runVerifier(entry, await request.startVerification("m.sas.v1"));
    }
    return describeRequest(args.request_id, request);
}

async function sas(args) {
    const entry = entryFor(args);
    const callbacks = await waitUntil(
        "the SAS to be shown",
        () => {
            if (entry.request.phase === VerificationPhase.Cancelled) {
                throw new Error(`verification cancelled (${entry.request.cancellationCode})`);
            }
            return entry.verifier?.getShowSasCallbacks() ?? null;
        },
        args.timeout_ms,
    );
    return { emoji: callbacks.sas.emoji ?? null, decimals: callbacks.sas.decimal ?? null };
}

function sasCallbacks(entry) {
    const callbacks = entry.verifier?.getShowSasCallbacks();
    if (!callbacks) throw new Error("no SAS is shown for this request (call 'sas' first)");
    return callbacks;
}

async function confirmSas(args) {
    const entry = entryFor(args);
    await sasCallbacks(entry).confirm();
    if (args.wait_done) {
        await waitUntil(
            "the verification to finish",
            () => entry.request.phase === VerificationPhase.Done || entry.request.phase === VerificationPhase.Cancelled,
            args.timeout_ms,
        );
    }
    return verificationState(args);
}

async function mismatchSas(args) {
    sasCallbacks(entryFor(args)).mismatch();
    return {};
}

function verificationState(args) {
    const entry = entryFor(args);
    const request = entry.request;
    return {
        ...describeRequest(args.request_id, request),
        done: request.phase === VerificationPhase.Done,
        cancelled: request.phase === VerificationPhase.Cancelled,
        cancellation_code: request.cancellationCode ?? null,
        cancelling_user: request.cancellingUserId ?? null,
        chosen_method: request.chosenMethod ?? null,
        // `methods` throws "not implemented" in the Rust crypto's VerificationRequest.
        methods: attempt(() => request.methods, null),
        verifier_error: entry.verifyError,
    };
}

async function cancelVerification(args) {
    const entry = entryFor(args);
    await entry.request.cancel();
    return verificationState(args);
}

// ---------------------------------------------------------------- trust

async function userStatus(args) {
    const status = await crypto().getUserVerificationStatus(need(args, "user_id"));
    return {
        known: status.known ?? null,
        isVerified: status.isVerified(),
        isCrossSigningVerified: status.isCrossSigningVerified(),
        wasCrossSigningVerified: status.wasCrossSigningVerified(),
        needsUserApproval: status.needsUserApproval ?? null,
    };
}

async function deviceStatus(args) {
    const userId = need(args, "user_id");
    const deviceId = need(args, "device_id");
    if (args.refresh !== false) await crypto().getUserDeviceInfo([userId], true);
    const status = await crypto().getDeviceVerificationStatus(userId, deviceId);
    if (!status) return null;
    return {
        signedByOwner: status.signedByOwner,
        crossSigningVerified: status.crossSigningVerified,
        localVerified: status.localVerified,
        isVerified: status.isVerified(),
    };
}

async function devices(args) {
    const userId = need(args, "user_id");
    const map = await crypto().getUserDeviceInfo([userId], true);
    const result = [];
    for (const device of (map.get(userId) ?? new Map()).values()) {
        result.push({
            device_id: device.deviceId,
            display_name: device.displayName ?? null,
            ed25519: device.getFingerprint() ?? null,
            curve25519: device.getIdentityKey() ?? null,
            verified: enumName(DeviceVerification, device.verified),
            dehydrated: device.dehydrated,
        });
    }
    return result;
}

async function crossSigningStatus() {
    const c = crypto();
    const status = await c.getCrossSigningStatus();
    return {
        ready: await c.isCrossSigningReady(),
        public_keys_on_device: status.publicKeysOnDevice,
        private_keys_cached: status.privateKeysCachedLocally,
        private_keys_in_secret_storage: status.privateKeysInSecretStorage,
        master_key_id: await c.getCrossSigningKeyId(),
    };
}

async function resetCrossSigning() {
    // New cross-signing keys for the account (an identity change, as seen by everyone else);
    // replacing published keys needs user-interactive auth, answered with the password.
    const c = crypto();
    const before = await c.getCrossSigningKeyId();
    await c.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordAuth });
    return { previous_master_key_id: before, master_key_id: await c.getCrossSigningKeyId() };
}

async function setIsolation(args) {
    const mode = isolationMode(args.isolation);
    crypto().setDeviceIsolationMode(mode);
    return { isolation: isolationName(mode) };
}

async function whoami() {
    if (!state.client) return { user_id: null, device_id: null };
    const keys = await crypto().getOwnDeviceKeys();
    return { user_id: state.userId, device_id: state.deviceId, ed25519: keys.ed25519, curve25519: keys.curve25519 };
}

// ---------------------------------------------------------------- dispatch

let stopping = false;

async function stop(args = {}) {
    stopping = true;
    if (state.client) {
        if (args.logout) {
            // Deletes the device on the server (other users see it go).
            try {
                await state.client.logout(true);
            } catch (error) {
                log("logout failed:", error?.message ?? error);
            }
        }
        state.client.stopClient();
    }
    return {};
}

const OPS = {
    ping: async () => ({ pong: true }),
    login: (args) => login(args, { bootstrap: true }),
    login_raw: (args) => login(args, { bootstrap: false }),
    whoami,
    create_room: createRoom,
    join,
    invite,
    leave,
    send,
    edit,
    react,
    redact,
    timeline,
    request_verification: requestVerification,
    accept_verification: acceptVerification,
    start_sas: startSas,
    sas,
    confirm_sas: confirmSas,
    mismatch_sas: mismatchSas,
    verification_state: async (args) => verificationState(args),
    cancel_verification: cancelVerification,
    user_status: userStatus,
    device_status: deviceStatus,
    devices,
    cross_signing_status: crossSigningStatus,
    reset_cross_signing: resetCrossSigning,
    set_isolation: setIsolation,
    stop,
};

async function handle(line) {
    let request;
    try {
        request = JSON.parse(line);
    } catch (error) {
        emit({ id: null, ok: false, error: `bad JSON request: ${error.message}` });
        return;
    }
    const { id, op, ...given } = request;
    // A null argument is an absent one.
    const args = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== null));
    const fn = OPS[op];
    if (!fn) {
        emit({ id, ok: false, error: `unknown op '${op}'` });
        return;
    }
    try {
        const result = await fn(args);
        emit({ id, ok: true, result: result ?? null });
    } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        log(`op ${op} failed:`, error?.stack ?? message);
        emit({ id, ok: false, error: message });
    }
    if (op === "stop") {
        process.stdout.write("", () => process.exit(0));
    }
}

process.on("unhandledRejection", (reason) => {
    log("unhandled rejection:", reason?.stack ?? reason);
});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
// Requests run concurrently (a `sas` wait must not block the other ops); answers carry their id.
lines.on("line", (line) => {
    if (line.trim()) void handle(line);
});
lines.on("close", async () => {
    if (!stopping) await stop();
    process.exit(0);
});
emit({ event: { type: "ready", pid: process.pid } });
