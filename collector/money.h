/* Money amounts for people: integer minor units shown in major units with
 * the currency's decimals, as Stripe and Razorpay count minor units. */
#ifndef TM_MONEY_H
#define TM_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Decimal places of a currency's minor unit (code case-insensitive): 0 for
 * Stripe's zero-decimal currencies (JPY, KRW, ...), 3 for BHD, JOD, KWD,
 * OMR and TND, else 2. */
int money_decimals(const char *currency);

/* "25.00 USD", "500 JPY", "-1.250 KWD" (the code upper-cased; anything
 * but three letters shown as given); just the number when currency is
 * NULL or "".  Always NUL-terminates buf (truncating if len is short). */
void money_format(int64_t minor, const char *currency, char *buf, size_t len);

#endif
