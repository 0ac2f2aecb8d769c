// Package api holds the JSON wire structures of the Yandex 360 admin API
// (api360.yandex.net), the OAuth token endpoint (oauth.yandex.ru/token) and the
// error bodies of the Disk REST API, as documented in docs/yandex-api.md.
// It has no behaviour: package y360 uses these types to decode responses.
package api
