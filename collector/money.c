#include "money.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Stripe's "Supported currencies" page (zero-decimal and three-decimal
 * currencies); Razorpay uses the same subunits.  ISK, HUF and TWD stay at
 * 2: Stripe takes their amounts with two decimals. */
static const char zero_decimal[][4] = {
	"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF",
	"UGX", "VND", "VUV", "XAF", "XOF", "XPF",
};
static const char three_decimal[][4] = { "BHD", "JOD", "KWD", "OMR", "TND" };

static int listed(const char (*list)[4], size_t n, const char *code)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], code) == 0)
			return 1;
	return 0;
}

/* The upper-case code, or "" for anything that is not three letters. */
static void code_of(const char *currency, char code[4])
{
	code[0] = '\0';
	if (!currency || strlen(currency) != 3)
		return;
	for (int i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)currency[i])) {
			code[0] = '\0';
			return;
		}
		code[i] = (char)toupper((unsigned char)currency[i]);
	}
	code[3] = '\0';
}

static int decimals_of(const char code[4])
{
	if (listed(zero_decimal, sizeof(zero_decimal) / sizeof(zero_decimal[0]), code))
		return 0;
	if (listed(three_decimal, sizeof(three_decimal) / sizeof(three_decimal[0]), code))
		return 3;
	return 2;
}

int money_decimals(const char *currency)
{
	char code[4];

	code_of(currency, code);
	return decimals_of(code);
}

void money_format(int64_t minor, const char *currency, char *buf, size_t len)
{
	static const uint64_t scale[] = { 1, 10, 100, 1000 };
	uint64_t a = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
	char code[4], frac[24] = "";    /* room for any u64, as the compiler cannot see d <= 3 */
	const char *label;
	int d;

	code_of(currency, code);
	d = decimals_of(code);
	label = code[0] ? code : currency ? currency : "";     /* odd codes as given */
	if (d)
		snprintf(frac, sizeof(frac), ".%0*llu", d,
			 (unsigned long long)(a % scale[d]));
	snprintf(buf, len, "%s%llu%s%s%s", minor < 0 ? "-" : "",
		 (unsigned long long)(a / scale[d]), frac, label[0] ? " " : "", label);
}
