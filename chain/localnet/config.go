package localnet

import (
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/spf13/viper"
)

type cmtcryptoPrivKey = crypto.PrivKey

// readConfig loads a node's config.toml into c, as cometbft's own CLI does.
func readConfig(path string, c *cmtcfg.Config) error {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("localnet: read %s: %w", path, err)
	}
	root := c.RootDir
	if err := v.Unmarshal(c); err != nil {
		return fmt.Errorf("localnet: parse %s: %w", path, err)
	}
	c.SetRoot(root)
	if err := c.ValidateBasic(); err != nil {
		return fmt.Errorf("localnet: %s: %w", path, err)
	}
	return nil
}
