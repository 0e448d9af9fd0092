package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/chain"
)

// versionInfo is what `fedledger version` prints.
type versionInfo struct {
	Version    string `json:"version"`
	AppVersion uint64 `json:"app_version"`
	CometBFT   string `json:"cometbft"`
	ABCI       string `json:"abci"`
	Go         string `json:"go"`
	Commit     string `json:"commit,omitempty"`
}

func newVersionCmd(g *globals) *cobra.Command {
	cmd := leaf("version", "Print the versions of fedledger, its state machine and CometBFT", `Prints fedledger's version, the version of its state machine's rules
(AppVersion: nodes that agree on blocks must run the same), and the
CometBFT release and ABCI version it is built with.

Examples:
  fedledger version
  fedledger version --output json`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := versionInfo{Version: chain.Version, AppVersion: chain.AppVersion, CometBFT: cmtversion.TMCoreSemVer,
			ABCI: cmtversion.ABCIVersion, Go: runtime.Version()}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v.Commit = s.Value
				}
			}
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "fedledger %s (state machine v%d)\nCometBFT  %s (ABCI %s)\n%s\n", v.Version, v.AppVersion, v.CometBFT, v.ABCI, v.Go)
		if v.Commit != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "commit    %s\n", v.Commit)
		}
		return nil
	}
	return cmd
}
