// Apollo Client 4 against a real Clientela server: what a web front end built
// on @apollo/client relies on. tests/apollo.rs starts the server, mints the
// tokens and runs `node --test tests/apollo/` with:
//   CLIENTELA_URL           base URL, e.g. http://127.0.0.1:41234
//   CLIENTELA_TOKEN         an admin token of tenant "default"
//   CLIENTELA_VIEWER_TOKEN  a viewer token of the same tenant
// Every test creates the customers it needs (distinct phone numbers, names and
// tags carrying this run's tag), so the suite also runs against a used database.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  gql,
} from '@apollo/client';
import { isSubscriptionOperation, relayStylePagination } from '@apollo/client/utilities';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';

// Readable invariant messages instead of go.apollo.dev links.
loadDevMessages();
loadErrorMessages();

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/apollo.rs sets it)`);
  return value;
}

const BASE = required('CLIENTELA_URL').replace(/\/+$/, '');
const ADMIN = required('CLIENTELA_TOKEN');
const VIEWER = required('CLIENTELA_VIEWER_TOKEN');
const HTTP_URL = `${BASE}/graphql`;
const WS_URL = `${BASE.replace(/^http/, 'ws')}/graphql/ws`;

// This run's tag: letters only, so the search filter matches it as one word.
const RUN = Array.from({ length: 8 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
// Valid Mexican numbers (52 + Mérida's 999 + 7 digits), distinct per run.
const PHONE_BASE = 1_000_000 + Math.floor(Math.random() * 8_000) * 1_000;
let nextPhone = 0;
const phone = () => `52999${PHONE_BASE + nextPhone++}`;

/** Wraps the HTTP link and counts the operations that reached the network, by name. */
function countingLink() {
  const counts = new Map();
  const link = new ApolloLink((operation, forward) => {
    counts.set(operation.operationName, (counts.get(operation.operationName) ?? 0) + 1);
    return forward(operation);
  });
  return { link, counts };
}

function httpLink(token) {
  return new HttpLink({
    uri: HTTP_URL,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

function client({ token = ADMIN, typePolicies, link } = {}) {
  return new ApolloClient({
    link: link ?? httpLink(token),
    cache: new InMemoryCache({ typePolicies }),
  });
}

/** Asserts `promise` rejects with a GraphQL error whose extensions.code is `code`; returns its first error. */
async function rejectsWithCode(promise, code) {
  let caught;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(
    CombinedGraphQLErrors.is(caught),
    `expected CombinedGraphQLErrors, got ${caught?.constructor?.name}: ${caught?.message}`,
  );
  const codes = caught.errors.map((e) => e.extensions?.code);
  assert.equal(codes[0], code, `extensions.code of ${JSON.stringify(caught.errors)}`);
  return caught.errors[0];
}

const CREATE = gql`
  mutation CreateCustomer($input: CreateCustomerInput!) {
    createCustomer(input: $input) {
      id
      phoneNumber
      firstName
      lastName
      tags
    }
  }
`;

const CUSTOMER = gql`
  query Customer($id: ID!) {
    customer(id: $id) {
      id
      phoneNumber
      firstName
      lastName
      tags
    }
  }
`;

const UPDATE = gql`
  mutation UpdateCustomer($id: ID!, $input: UpdateCustomerInput!) {
    updateCustomer(id: $id, input: $input) {
      id
      firstName
    }
  }
`;

const LIST = gql`
  query Customers($filter: CustomerFilter, $limit: Int) {
    customers(filter: $filter, limit: $limit) {
      items {
        id
        phoneNumber
        firstName
        tags
      }
      pagination {
        total
      }
    }
  }
`;

const CONNECTION = gql`
  query CustomersConnection($filter: CustomerFilter, $first: Int, $after: String) {
    customersConnection(filter: $filter, first: $first, after: $after, sortBy: CREATED_AT, sortOrder: ASC) {
      edges {
        cursor
        node {
          id
          firstName
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
`;

const CHANGED = gql`
  subscription CustomerChanged($id: ID) {
    customerChanged(id: $id) {
      kind
      customerId
      customer {
        id
        firstName
      }
    }
  }
`;

async function create(apollo, input) {
  const { data } = await apollo.mutate({ mutation: CREATE, variables: { input: { phoneNumber: phone(), ...input } } });
  return data.createCustomer;
}

test('a list query with variables returns the filtered customers', async () => {
  const apollo = client();
  const tag = `list-${RUN}`;
  const ana = await create(apollo, { firstName: 'Ana', lastName: `Lista${RUN}`, tags: [tag, 'vip'] });
  const beto = await create(apollo, { firstName: 'Beto', lastName: `Lista${RUN}`, tags: [tag] });
  await create(apollo, { firstName: 'Carla', lastName: `Lista${RUN}`, tags: [`other-${RUN}`] });

  const { data } = await apollo.query({
    query: LIST,
    variables: { filter: { search: `lista${RUN}`, tags: [tag] }, limit: 10 },
  });
  assert.equal(data.customers.pagination.total, 2);
  assert.deepEqual(data.customers.items.map((c) => c.id).sort(), [ana.id, beto.id].sort());
  const ana2 = data.customers.items.find((c) => c.id === ana.id);
  assert.equal(ana2.__typename, 'Customer');
  assert.equal(ana2.firstName, 'Ana');
  assert.equal(ana2.phoneNumber, ana.phoneNumber);
  assert.deepEqual([...ana2.tags].sort(), [tag, 'vip'].sort());

  // Other variables are another query: the limit is applied, the total is not.
  const limited = await apollo.query({
    query: LIST,
    variables: { filter: { search: `lista${RUN}` }, limit: 1 },
  });
  assert.equal(limited.data.customers.items.length, 1);
  assert.equal(limited.data.customers.pagination.total, 3);
});

test('createCustomer through client.mutate, then read back from the server', async () => {
  const apollo = client();
  const number = phone();
  const spaced = `+52 (${number.slice(2, 5)}) ${number.slice(5, 8)}-${number.slice(8)}`;
  const { data } = await apollo.mutate({
    mutation: CREATE,
    variables: { input: { phoneNumber: spaced, firstName: 'José', lastName: `Creado${RUN}`, tags: ['premium'] } },
  });
  const created = data.createCustomer;
  assert.equal(created.__typename, 'Customer');
  assert.ok(created.id, 'an id');
  assert.equal(created.phoneNumber, number, 'the number is stored normalized');

  // A fresh client (empty cache) reads it back over the network.
  const { data: back } = await client().query({ query: CUSTOMER, variables: { id: created.id } });
  assert.deepEqual(
    { ...back.customer, tags: [...back.customer.tags] },
    { __typename: 'Customer', id: created.id, phoneNumber: number, firstName: 'José', lastName: `Creado${RUN}`, tags: ['premium'] },
  );
});

test('an updateCustomer result updates the normalized cache by id, without a refetch', async () => {
  const { link, counts } = countingLink();
  const apollo = client({ link: ApolloLink.from([link, httpLink(ADMIN)]) });
  const customer = await create(apollo, { firstName: 'Antes', lastName: `Cache${RUN}` });
  counts.clear();

  // The customer enters the cache through a query...
  const { data } = await apollo.query({ query: CUSTOMER, variables: { id: customer.id } });
  assert.equal(data.customer.firstName, 'Antes');
  assert.equal(counts.get('Customer'), 1);
  // ...under Customer:<id>, the default normalization (id + __typename).
  const cacheId = apollo.cache.identify({ __typename: 'Customer', id: customer.id });
  assert.equal(cacheId, `Customer:${customer.id}`);
  assert.ok(apollo.cache.extract()[cacheId], 'the customer is normalized in the cache');

  // A cache-only watch of that query sees the mutation's result.
  const watched = apollo.watchQuery({ query: CUSTOMER, variables: { id: customer.id }, fetchPolicy: 'cache-only' });
  const seen = [];
  let sawNew;
  const gotNew = new Promise((resolve) => (sawNew = resolve));
  const sub = watched.subscribe((result) => {
    const name = result.data?.customer?.firstName;
    if (name) seen.push(name);
    if (name === 'Después') sawNew();
  });
  try {
    const { data: updated } = await apollo.mutate({
      mutation: UPDATE,
      variables: { id: customer.id, input: { firstName: 'Después' } },
    });
    assert.deepEqual(updated.updateCustomer, { __typename: 'Customer', id: customer.id, firstName: 'Después' });

    const cached = apollo.readQuery({ query: CUSTOMER, variables: { id: customer.id } });
    assert.equal(cached.customer.firstName, 'Después');
    assert.equal(cached.customer.lastName, `Cache${RUN}`, 'fields the mutation did not select stay');
    await withTimeout(gotNew, 2000, `the watched query saw ${JSON.stringify(seen)}, never "Después"`);
    assert.equal(counts.get('Customer'), 1, 'the query was not sent again');
  } finally {
    sub.unsubscribe();
  }
});

test('fetchMore over customersConnection with relayStylePagination walks every page once', async () => {
  const tag = `page-${RUN}`;
  const admin = client();
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push(await create(admin, { firstName: `Página${i}`, lastName: `Pagina${RUN}`, tags: [tag] }));
  }

  const { link, counts } = countingLink();
  const apollo = client({
    link: ApolloLink.from([link, httpLink(ADMIN)]),
    typePolicies: {
      Query: { fields: { customersConnection: relayStylePagination(['filter']) } },
    },
  });
  const variables = { filter: { tags: [tag] }, first: 2 };
  const observable = apollo.watchQuery({ query: CONNECTION, variables });
  // What a UI sees: every result the watched query emits.
  const results = [];
  const waiters = new Set();
  const sub = observable.subscribe((result) => {
    if (result.data?.customersConnection) results.push(result.data.customersConnection);
    for (const w of waiters) w();
  });
  const emitted = (pred, what) =>
    withTimeout(
      new Promise((resolve) => {
        const check = () => {
          const hit = results.findLast(pred);
          if (hit) {
            waiters.delete(check);
            resolve(hit);
          }
        };
        waiters.add(check);
        check();
      }),
      3000,
      `the watched query never emitted ${what}; it emitted ${JSON.stringify(results.map((r) => r.edges.length))} edges`,
    );
  try {
    let connection = await emitted(() => true, 'a first page');
    assert.equal(connection.edges.length, 2);
    assert.equal(connection.totalCount, 5);
    assert.equal(connection.pageInfo.hasNextPage, true);

    let pages = 1;
    while (connection.pageInfo.hasNextPage) {
      assert.ok(pages < 10, 'pagination ends');
      const seen = connection.edges.length;
      const more = await observable.fetchMore({ variables: { after: connection.pageInfo.endCursor } });
      const page = more.data.customersConnection;
      assert.ok(page.edges.length > 0 && page.edges.length <= 2, `a page of 1 or 2, got ${page.edges.length}`);
      pages++;
      // relayStylePagination appends the page to the cached list, and the
      // watched query emits the merged list.
      connection = await emitted((c) => c.edges.length === seen + page.edges.length, `${seen + page.edges.length} edges`);
    }
    assert.equal(pages, 3, '5 customers, 2 a page');
    assert.equal(counts.get('CustomersConnection'), 3, 'one request a page');

    const ids = connection.edges.map((e) => e.node.id);
    assert.equal(new Set(ids).size, ids.length, `each customer once: ${ids}`);
    assert.equal(ids.length, connection.totalCount);
    assert.deepEqual(ids, made.map((c) => c.id), 'in creation order (CREATED_AT ASC)');
    assert.equal(connection.pageInfo.hasNextPage, false);
    const cached = apollo.readQuery({ query: CONNECTION, variables }).customersConnection;
    assert.deepEqual(cached.edges.map((e) => e.node.id), ids, 'the cache holds the merged list');
  } finally {
    sub.unsubscribe();
  }
});

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const wsClients = [];
after(async () => {
  await Promise.all(wsClients.map((c) => c.dispose()));
});

function subscriptionClient() {
  const ws = createClient({
    url: WS_URL,
    connectionParams: { Authorization: `Bearer ${ADMIN}` },
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
  });
  wsClients.push(ws);
  const connected = withTimeout(
    new Promise((resolve, reject) => {
      ws.on('connected', resolve);
      ws.on('closed', (e) => reject(new Error(`graphql-ws closed: ${e?.code} ${e?.reason}`)));
    }),
    5000,
    'graphql-ws did not connect',
  );
  const link = ApolloLink.split(({ query }) => isSubscriptionOperation(query), new GraphQLWsLink(ws), httpLink(ADMIN));
  return { connected, apollo: client({ link }) };
}

/** Subscribes and collects events; `next(pred, ms)` resolves with the first matching one. */
function collect(observable) {
  const events = [];
  const waiters = [];
  let failure;
  const sub = observable.subscribe({
    next(result) {
      if (result.error) failure = result.error;
      const event = result.data?.customerChanged;
      if (event) events.push(event);
      for (const w of [...waiters]) w();
    },
    error(err) {
      failure = err;
      for (const w of [...waiters]) w();
    },
  });
  return {
    sub,
    events,
    next(pred, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(null), ms);
        const check = () => {
          if (failure) return done(failure, true);
          const hit = events.find(pred);
          if (hit) done(hit);
        };
        const done = (value, isError) => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check) >>> 0, 1);
          if (isError) reject(value);
          else resolve(value);
        };
        waiters.push(check);
        check();
      });
    },
  };
}

test('a subscription over graphql-ws receives the CREATED event of a customer created by a mutation', async () => {
  const { connected, apollo } = subscriptionClient();
  await connected;

  const stream = collect(apollo.subscribe({ query: CHANGED }));
  try {
    // The protocol has no "subscribed" acknowledgement: create until the
    // server's subscriber (registered asynchronously) reports one of ours.
    const created = new Map();
    let event = null;
    for (let attempt = 0; attempt < 10 && !event; attempt++) {
      const c = await create(apollo, { firstName: `Suscrito${attempt}`, lastName: `Sub${RUN}` });
      created.set(c.id, c);
      event = await stream.next((e) => e.kind === 'CREATED' && created.has(e.customerId), 1000);
    }
    assert.ok(event, `no CREATED event for our customers; got ${JSON.stringify(stream.events)}`);
    assert.equal(event.__typename, 'CustomerEvent');
    assert.equal(event.customer.id, event.customerId);
    assert.equal(event.customer.firstName, created.get(event.customerId).firstName);

    // Later events arrive too, in order: an update of that customer.
    await apollo.mutate({ mutation: UPDATE, variables: { id: event.customerId, input: { firstName: 'Cambiado' } } });
    const updated = await stream.next((e) => e.kind === 'UPDATED' && e.customerId === event.customerId, 3000);
    assert.ok(updated, `no UPDATED event; got ${JSON.stringify(stream.events)}`);
    assert.equal(updated.customer.firstName, 'Cambiado');
  } finally {
    stream.sub.unsubscribe();
  }
});

test('customerChanged(id) only receives that customer\'s events, and updates the cache', async () => {
  const { connected, apollo } = subscriptionClient();
  const watchedCustomer = await create(apollo, { firstName: 'Vigilado', lastName: `Uno${RUN}` });
  const other = await create(apollo, { firstName: 'Otro', lastName: `Dos${RUN}` });
  await connected;

  const stream = collect(apollo.subscribe({ query: CHANGED, variables: { id: watchedCustomer.id } }));
  try {
    let event = null;
    for (let attempt = 0; attempt < 10 && !event; attempt++) {
      await apollo.mutate({ mutation: UPDATE, variables: { id: other.id, input: { firstName: `Otro${attempt}` } } });
      await apollo.mutate({
        mutation: UPDATE,
        variables: { id: watchedCustomer.id, input: { firstName: `Vigilado${attempt}` } },
      });
      event = await stream.next((e) => e.kind === 'UPDATED', 1000);
    }
    assert.ok(event, 'no UPDATED event for the watched customer');
    assert.ok(
      stream.events.every((e) => e.customerId === watchedCustomer.id),
      `only the watched customer's events: ${JSON.stringify(stream.events)}`,
    );
    // The event's customer is normalized like any other Customer.
    const last = stream.events.at(-1).customer.firstName;
    const cached = apollo.cache.readFragment({
      id: apollo.cache.identify({ __typename: 'Customer', id: watchedCustomer.id }),
      fragment: gql`
        fragment Name on Customer {
          firstName
        }
      `,
    });
    assert.equal(cached.firstName, last);
  } finally {
    stream.sub.unsubscribe();
  }
});

test('a viewer\'s createCustomer fails with extensions.code FORBIDDEN', async () => {
  const viewer = client({ token: VIEWER });
  await rejectsWithCode(
    viewer.mutate({ mutation: CREATE, variables: { input: { phoneNumber: phone(), firstName: 'Nope' } } }),
    'FORBIDDEN',
  );
  // A viewer still reads.
  const { data } = await viewer.query({ query: LIST, variables: { limit: 1 } });
  assert.ok(Array.isArray(data.customers.items));
});

test('a duplicate phone number fails with CONFLICT and extensions.existingId', async () => {
  const apollo = client();
  const number = phone();
  const first = await create(apollo, { phoneNumber: number, firstName: 'Primero' });
  const error = await rejectsWithCode(
    apollo.mutate({ mutation: CREATE, variables: { input: { phoneNumber: number, firstName: 'Segundo' } } }),
    'CONFLICT',
  );
  assert.equal(error.extensions.existingId, first.id);
});

test('no token fails with UNAUTHENTICATED', async () => {
  await rejectsWithCode(client({ token: null }).query({ query: LIST, variables: { limit: 1 } }), 'UNAUTHENTICATED');
});

test('limit: 0 fails with BAD_USER_INPUT', async () => {
  await rejectsWithCode(client().query({ query: LIST, variables: { limit: 0 } }), 'BAD_USER_INPUT');
});

test('updateCustomer of an unknown id fails with NOT_FOUND', async () => {
  await rejectsWithCode(
    client().mutate({
      mutation: UPDATE,
      variables: { id: '00000000-0000-4000-8000-000000000000', input: { firstName: 'Nadie' } },
    }),
    'NOT_FOUND',
  );
});

test('errorPolicy "all" hands the error and its code to the caller without throwing', async () => {
  const result = await client().query({ query: LIST, variables: { limit: 0 }, errorPolicy: 'all' });
  assert.ok(CombinedGraphQLErrors.is(result.error), `an error: ${result.error}`);
  assert.equal(result.error.errors[0].extensions.code, 'BAD_USER_INPUT');
});
