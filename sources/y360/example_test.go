package y360_test

import (
	"context"
	"fmt"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// List the organization's users and mint a token for each active one.
func Example() {
	emu := y360emu.New(y360emu.DefaultOrg())
	base := emu.Start()
	defer emu.Close()

	c, err := y360.New(y360.Config{
		OrgID: y360emu.DemoOrgID, AdminToken: y360emu.DemoAdminToken,
		ClientID: y360emu.DemoClientID, ClientSecret: y360emu.DemoClientSecret,
		APIBase: base, OAuthURL: emu.OAuthURL(),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = c.ListUsers(ctx, func(u sources.User) error {
		if !u.Enabled || u.Robot {
			fmt.Println("skip", u.Email)
			return nil
		}
		tok, err := c.Tokens(u).Token(ctx) // cached; re-minted at 80% of its lifetime
		if err != nil {
			return err
		}
		email, _ := emu.ValidateToken(tok)
		fmt.Println("token for", email)
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// token for alice@demo.y360.test
	// token for bob@demo.y360.test
	// token for carol@demo.y360.test
	// token for dave@demo.y360.test
	// token for eve@demo.y360.test
	// token for frank@demo.y360.test
	// skip mallory@demo.y360.test
	// skip yndx-forms-cnt-robot@demo.y360.test
	// err: <nil>
}
