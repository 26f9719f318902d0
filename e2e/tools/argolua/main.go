// Command argolua runs an Argo CD resource health check (a Lua script) the way Argo CD runs one from
// its argocd-cm ConfigMap: on gopher-lua, Argo CD's Lua runtime, with only the package, base and
// table libraries open (no string library: Argo CD leaves it out of ConfigMap scripts unless
// useOpenLibs is set), the object as the global `obj`, a one-second limit, and the returned table
// read as {status, message}, where a status Argo CD does not know becomes Unknown.
//
//	argolua SCRIPT.lua < object.json     prints {"status": "...", "message": "..."}
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The health statuses Argo CD accepts from a script.
var known = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argolua SCRIPT.lua < object.json")
		os.Exit(2)
	}
	h, err := run(os.Args[1], os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argolua:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(h); err != nil {
		fmt.Fprintln(os.Stderr, "argolua:", err)
		os.Exit(1)
	}
}

func run(scriptPath string, in io.Reader) (*health, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.NewDecoder(in).Decode(&obj); err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		return nil, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	h := &health{Status: luaString(ret.RawGetString("status")), Message: luaString(ret.RawGetString("message"))}
	if !known[h.Status] {
		return &health{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return h, nil
}

func luaString(v lua.LValue) string {
	if v == lua.LNil {
		return ""
	}
	return v.String()
}

// toLua converts decoded JSON into Lua values: objects and arrays become tables, null becomes nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}
