package cli

import "fmt"

// plural says n of a thing in a message, with the singular for one:
// "1 session", "3 sessions", "1 was", "0 were".
func plural[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
