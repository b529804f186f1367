def run_deposits(account, amounts, workers):
    # A lock is taken, but the balance is read before it: another thread may write in between.
    lock = threading.Lock()

    def deposit(amount):
        approve(amount)
        balance = account.balance
        with lock:
            account.balance = balance + amount

    with ThreadPoolExecutor(workers) as executor:
        futures = [executor.submit(deposit, amount) for amount in amounts]
    for future in futures:
        future.result()
