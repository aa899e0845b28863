// Starts GraphiQL for Clientela (served from /graphql/assets/playground.js).
//
// Queries and mutations are POSTed to /graphql on this origin; subscriptions
// go to ws(s)://<this host>/graphql/ws (graphql-transport-ws), with the
// headers editor's contents sent as the connection_init payload.
//
// Open /graphql#token=<jwt> to start with `Authorization: Bearer <jwt>` in
// the headers editor; the token is then removed from the address bar.
(function () {
  'use strict';

  var DEFAULT_QUERY = [
    '# Your token goes in Headers below. Run: Ctrl-Enter',
    '{',
    '  customers(limit: 5) {',
    '    items { id phoneNumber firstName }',
    '    pagination { total }',
    '  }',
    '}',
    ''
  ].join('\n');

  function authorizationHeaders(token) {
    return '{"Authorization": ' + JSON.stringify('Bearer ' + token) + '}';
  }

  // `#token=<jwt>` (other `&`-separated parameters are ignored).
  function tokenFromHash() {
    var params = location.hash.replace(/^#/, '').split('&');
    for (var i = 0; i < params.length; i++) {
      var eq = params[i].indexOf('=');
      if (eq > 0 && params[i].slice(0, eq) === 'token') {
        try {
          return decodeURIComponent(params[i].slice(eq + 1)).trim() || null;
        } catch (e) {
          return null;
        }
      }
    }
    return null;
  }

  var token = tokenFromHash();
  if (token !== null && window.history && history.replaceState) {
    // Keep the token out of the address bar, bookmarks and history.
    history.replaceState(null, '', location.pathname + location.search);
  }

  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl:
      (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/graphql/ws'
  });

  // GraphiQL keeps its history and favourites in localStorage together with
  // each operation's headers, whatever shouldPersistHeaders says. Tokens must
  // not outlive the page, so those lists are stored without headers.
  var HEADERLESS_LISTS = { 'graphiql:queries': 'queries', 'graphiql:favorites': 'favorites' };

  function withoutHeaders(key, value) {
    var list = HEADERLESS_LISTS[key];
    if (!list) {
      return value;
    }
    try {
      var parsed = JSON.parse(value);
      (parsed[list] || []).forEach(function (item) {
        delete item.headers;
      });
      return JSON.stringify(parsed);
    } catch (e) {
      return null;
    }
  }

  function browserStorage() {
    var local;
    try {
      local = window.localStorage;
      local.getItem('graphiql:probe');
    } catch (e) {
      return null; // storage disabled: GraphiQL then keeps nothing
    }
    function ownKeys() {
      var keys = [];
      for (var i = 0; i < local.length; i++) {
        var key = local.key(i);
        if (key !== null && key.indexOf('graphiql:') === 0) {
          keys.push(key);
        }
      }
      return keys;
    }
    return {
      getItem: function (key) {
        return local.getItem(key);
      },
      setItem: function (key, value) {
        var kept = withoutHeaders(key, value);
        if (kept === null) {
          local.removeItem(key);
        } else {
          local.setItem(key, kept);
        }
      },
      removeItem: function (key) {
        local.removeItem(key);
      },
      clear: function () {
        ownKeys().forEach(function (key) {
          local.removeItem(key);
        });
      },
      get length() {
        return ownKeys().length;
      }
    };
  }

  var props = {
    fetcher: fetcher,
    storage: browserStorage(),
    defaultQuery: DEFAULT_QUERY,
    defaultHeaders: authorizationHeaders('<paste token>'),
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    // Tokens stay out of localStorage (see browserStorage above).
    shouldPersistHeaders: false
  };
  if (token !== null) {
    props.headers = authorizationHeaders(token);
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props)
  );
})();
