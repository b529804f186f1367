def run_deposits(account, amounts, workers):
    # No lock: two threads read the same balance and the later write overwrites the earlier deposit.
    def deposit(amount):
        approve(amount)
        account.balance = account.balance + amount

    with ThreadPoolExecutor(workers) as executor:
        futures = [executor.submit(deposit, amount) for amount in amounts]
    for future in futures:
        future.result()
