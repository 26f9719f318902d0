// Pinned module for the Argo CD health check runner (main.go): gopher-lua, the Lua runtime Argo CD embeds.
module modelship.io/e2e/tools/argolua

go 1.26.0

require github.com/yuin/gopher-lua v1.1.1
